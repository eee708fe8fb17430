# shellcheck shell=bash
# softhsm.sh - sourced by integration tests: a private SoftHSM2 token and an
# openssl.cnf that loads OpenSSL's default provider first, then envelope.so.
#
#   softhsm_setup DIR PROVIDER_DIR [TOKEN_LABEL]
#       creates DIR/softhsm2.conf, DIR/tokens/, a token (default label
#       "envtest") with SO PIN 12345678 and user PIN in DIR/pin (file, 0600),
#       and DIR/openssl.cnf; exports SOFTHSM2_CONF, OPENSSL_CONF,
#       OPENSSL_MODULES, ENV_TOKEN, ENV_PIN_FILE, ENV_PIN, ENV_P11_MODULE.
#   softhsm_write_conf               rewrite openssl.cnf (ENV_EXTRA_PROVIDER_CONF adds lines)
#   softhsm_add_token LABEL          another token in the same SoftHSM2 store
#   softhsm_keygen_aes LABEL ID      AES-256 KEK with pkcs11-tool (sensitive, non-extractable)
#   softhsm_keygen_rsa LABEL ID      RSA-3072 key pair with pkcs11-tool
#
# The token lives only in DIR; nothing outside it is touched.

ENV_P11_MODULE=${ENV_P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

# envelope_run_own CMD...: runs one of our own (instrumented) programs with
# leak checking on in sanitizer builds; elsewhere it just runs CMD.
envelope_run_own() {
  ASAN_OPTIONS=${ENVELOPE_OWN_ASAN_OPTIONS:-${ASAN_OPTIONS:-}} "$@"
}

softhsm_setup() {
  local dir=$1 provdir=$2 label=${3:-envtest}
  mkdir -p "$dir/tokens"
  cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  export SOFTHSM2_CONF=$dir/softhsm2.conf
  export ENV_TOKEN=$label
  export ENV_PIN=1234
  export ENV_PIN_FILE=$dir/pin
  (umask 077; printf '%s' "$ENV_PIN" >"$ENV_PIN_FILE")
  softhsm2-util --init-token --free --label "$label" --so-pin 12345678 --pin "$ENV_PIN" >/dev/null
  export ENV_PROVIDER_DIR=$provdir
  export OPENSSL_MODULES=$provdir
  export OPENSSL_CONF=$dir/openssl.cnf
  softhsm_write_conf
}

# envelope_write_conf PROVIDER_DIR [LINE...]: writes $OPENSSL_CONF loading
# OpenSSL's default provider first (docs/PROVIDER.md, "Provider order"), then envelope.so with
# the given settings lines ("key = value"); exports OPENSSL_MODULES.
envelope_write_conf() {
  local provdir=$1; shift
  export OPENSSL_MODULES=$provdir
  {
    printf '%s\n' "openssl_conf = openssl_init" "" "[openssl_init]" "providers = provider_sect" "" \
      "[provider_sect]" "default = default_sect" "envelope = envelope_sect" "" \
      "[default_sect]" "activate = 1" "" "[envelope_sect]" "module = $provdir/envelope.so"
    [ "$#" -eq 0 ] || printf '%s\n' "$@"
    printf '%s\n' "activate = 1"
  } >"$OPENSSL_CONF"
}

# softhsm_write_conf: (re)writes $OPENSSL_CONF for the SoftHSM2 token; extra
# provider settings come from ENV_EXTRA_PROVIDER_CONF (lines of "key = value").
# The PIN is bound to the test token (and ENV_EXTRA_TOKENS, comma-separated
# labels): the provider offers a configured PIN to listed tokens only.
softhsm_write_conf() {
  envelope_write_conf "$ENV_PROVIDER_DIR" "pkcs11-module = $ENV_P11_MODULE" \
    "pkcs11-pin-source = file:$ENV_PIN_FILE" \
    "pkcs11-tokens = $ENV_TOKEN${ENV_EXTRA_TOKENS:+, $ENV_EXTRA_TOKENS}" \
    ${ENV_EXTRA_PROVIDER_CONF:+"$ENV_EXTRA_PROVIDER_CONF"}
}

softhsm_add_token() {
  softhsm2-util --init-token --free --label "$1" --so-pin 12345678 --pin "$ENV_PIN" >/dev/null
}

softhsm_keygen_aes() {
  pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" \
    --keygen --key-type AES:32 --label "$1" --id "$2" --sensitive >/dev/null
}

softhsm_keygen_rsa() {
  pkcs11-tool --module "$ENV_P11_MODULE" --token-label "$ENV_TOKEN" --login --pin "$ENV_PIN" \
    --keypairgen --key-type rsa:3072 --label "$1" --id "$2" >/dev/null
}
