/*
 * cmd_reencrypt.c - `envelope reencrypt`: DEK rotation. Each message is
 * decrypted and encrypted again in one streaming pass, under a new DEK
 * and a new message id, wrapped for the --kek KEKs; the encryption
 * context is the old message's, the frame size too unless --frame-size.
 * The new message replaces the old one atomically (cli/replace.c: owner
 * and mode kept) or goes to -o OUT; either appears only once the whole old
 * message has verified. Plaintext exists only frame by frame in memory.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f, "usage: envelope reencrypt --kek URI [--kek URI]... [--from URI]...\n"
               "                          [--frame-size N] [-o OUT] [--force] [--quiet]\n"
               "                          [--config FILE] FILE...\n"
               "\n"
               "Decrypts each FILE and encrypts it again under a fresh DEK and message id,\n"
               "wrapped by each --kek KEK, keeping its encryption context. Without -o each FILE\n"
               "is replaced atomically (owner and mode kept) once the whole message verified.\n"
               "  --kek URI           a KEK for the new message (repeat; 1..16)\n"
               "  --from URI          decrypt with only these KEKs (repeat); without --from, the\n"
               "                      pkcs11: and tpm2: references in the message are opened,\n"
               "                      as decrypt does without --kek\n"
               "  --frame-size N      frame size of the new message (default: the old one's)\n"
               "  -o, --output OUT    write the new message to OUT (one FILE only)\n"
               "  --force             with -o: replace OUT if it exists\n"
               "  --quiet             only failures and the summary\n"
               "  --config FILE       OpenSSL configuration to use instead of OPENSSL_CONF\n"
               "exit: 0 all done, else the code of the first file that failed (envelope(1))\n");
}

typedef struct reenc_run {
    envelope_lib *lib;
    char *kek_uris[ENVELOPE_MAX_EDKS], *from_uris[ENVELOPE_MAX_EDKS];
    envelope_kek *keks[ENVELOPE_MAX_EDKS], *from[ENVELOPE_MAX_EDKS];
    size_t nk, nfrom, frame_size;
    const char *out_path;
    cli_batch b;
} reenc_run;

/* One message's pass: plaintext from the decryptor's sink goes straight
 * into the encryptor, made when the first plaintext (or the end) shows
 * that the old header verified, with its context. */
typedef struct reenc_pass {
    reenc_run *w;
    cli_out *out;
    envelope_decryptor *dec;
    envelope_encryptor *enc;
    uint8_t prefix[44]; /* the old header's first bytes: frame size at 40 */
    size_t plen;
    int enc_failed;
    envelope_err enc_err;
} reenc_pass;

static envelope_status start_encryptor(reenc_pass *p)
{
    size_t fs = p->w->frame_size;
    if (fs == 0 && p->plen == sizeof(p->prefix)) /* verified by the header tag by now */
        fs = (size_t)p->prefix[40] << 24 | (size_t)p->prefix[41] << 16 |
             (size_t)p->prefix[42] << 8 | p->prefix[43];
    envelope_encrypt_opts o = {.struct_size = sizeof(o),
                               .keks = p->w->keks,
                               .nkeks = p->w->nk,
                               .context = envelope_decryptor_context(p->dec),
                               .frame_size = fs};
    envelope_status s = envelope_encryptor_new(p->w->lib, &o, cli_out_sink, p->out, &p->enc,
                                               &p->enc_err);
    p->enc_failed = s != ENVELOPE_OK;
    return s;
}

static int plain_sink(void *arg, const uint8_t *buf, size_t len)
{
    reenc_pass *p = arg;
    if (p->enc == NULL && start_encryptor(p) != ENVELOPE_OK)
        return 1;
    if (envelope_encryptor_update(p->enc, buf, len, &p->enc_err) != ENVELOPE_OK) {
        p->enc_failed = 1;
        return 1;
    }
    return 0;
}

static envelope_status pass_update(void *obj, const uint8_t *buf, size_t len, envelope_err *err)
{
    reenc_pass *p = obj;
    size_t take = sizeof(p->prefix) - p->plen;
    if (take > len)
        take = len;
    memcpy(p->prefix + p->plen, buf, take);
    p->plen += take;
    return envelope_decryptor_update(p->dec, buf, len, err);
}

/* The pass through IN; OUT is the caller's to commit or abort. */
static int run_pass(reenc_pass *p, cli_common *c, cli_in *in)
{
    envelope_err err = {0};
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = p->w->from,
                               .nkeks = p->w->nfrom,
                               .expected = NULL,
                               .flags = ENVELOPE_DECRYPT_ANY_CONTEXT};
    envelope_status st;
    cli_progress prog;
    if (envelope_decryptor_new(p->w->lib, &o, plain_sink, p, &p->dec, &err) != ENVELOPE_OK)
        return cli_report_file(in->name, &err);
    cli_progress_start(&prog, c, in->size);
    int rc = cli_feed(in, pass_update, p, &prog, &st, &err);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (st == ENVELOPE_OK && envelope_decryptor_final(p->dec, &err) != ENVELOPE_OK)
        st = err.code;
    if (st != ENVELOPE_OK)
        return cli_report_file(in->name, p->enc_failed ? &p->enc_err : &err);
    if ((p->enc == NULL && start_encryptor(p) != ENVELOPE_OK) ||
        envelope_encryptor_final(p->enc, &p->enc_err) != ENVELOPE_OK)
        return cli_report_file(in->name, &p->enc_err);
    cli_progress_end(&prog);
    return CLI_EXIT_OK;
}

static int reencrypt_file(void *arg, const char *path, int named, cli_common *c)
{
    reenc_run *w = arg;
    (void)named;
    cli_in in;
    cli_out out;
    cli_replace rp;
    int rc = cli_in_open(&in, path), in_place = w->out_path == NULL;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (in_place)
        rc = cli_replace_begin(&rp, path, in.fd);
    else
        rc = cli_out_open(&out, w->out_path, c->force, &in);
    if (rc == CLI_EXIT_OK) {
        reenc_pass p;
        memset(&p, 0, sizeof(p));
        p.w = w;
        p.out = in_place ? &rp.out : &out;
        rc = run_pass(&p, c, &in);
        envelope_encryptor_free(p.enc);
        envelope_decryptor_free(p.dec);
        if (rc != CLI_EXIT_OK && in_place)
            cli_replace_abort(&rp);
        else if (rc != CLI_EXIT_OK)
            cli_out_abort(&out);
        else
            rc = in_place ? cli_replace_commit(&rp) : cli_out_commit(&out);
    }
    cli_in_close(&in);
    if (rc == CLI_EXIT_OK) {
        w->b.done++;
        if (!c->quiet) {
            fputs("reencrypted: ", stdout);
            cli_text_str(stdout, path);
            putchar('\n');
            fflush(stdout);
        }
    }
    return rc;
}

static int parse(reenc_run *w, cli_common *c, int argc, char **argv)
{
    static const struct option opts[] = {{"kek", required_argument, NULL, 'k'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"frame-size", required_argument, NULL, 's'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'F'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
        case 'f': {
            size_t *n = ch == 'k' ? &w->nk : &w->nfrom;
            if (*n == ENVELOPE_MAX_EDKS)
                return cli_usage("reencrypt", "at most %d --%s", ENVELOPE_MAX_EDKS,
                                 ch == 'k' ? "kek" : "from");
            (ch == 'k' ? w->kek_uris : w->from_uris)[(*n)++] = optarg;
            break;
        }
        case 's':
            if (!cli_parse_size(optarg, &w->frame_size) ||
                w->frame_size < ENVELOPE_FRAME_SIZE_MIN || w->frame_size > ENVELOPE_FRAME_SIZE_MAX)
                return cli_usage("reencrypt", "--frame-size must be 4K..16M, got \"%s\"", optarg);
            break;
        case 'o': w->out_path = optarg; break;
        case 'F': c->force = 1; break;
        case 'h': help(stdout); return -1;
        default:
            if (!cli_common_option(c, ch, optarg))
                return cli_usage_hint("reencrypt"); /* getopt_long has said which option */
        }
    }
    int n = argc - optind;
    if (w->nk == 0)
        return cli_usage("reencrypt", "reencrypt needs at least one --kek (the new KEKs)");
    if (n < 1)
        return cli_usage("reencrypt", "reencrypt needs at least one FILE");
    if (w->out_path != NULL && n != 1)
        return cli_usage("reencrypt",
                         "-o takes one FILE (got %d); without -o files are "
                         "replaced in place",
                         n);
    for (int i = optind; i < argc; i++)
        if (strcmp(argv[i], "-") == 0)
            return cli_usage("reencrypt", "reencrypt reads files, not stdin (use decrypt | "
                                          "encrypt for a pipe)");
    return CLI_EXIT_OK;
}

/* --from alias:NAME opens every version of NAME: data made under any of
 * them is rewrapped (or re-encrypted) from it. */
static int cli_open_from(reenc_run *w)
{
    size_t opened = 0;
    int rc = cli_open_keks_ex(w->lib, w->from_uris, w->nfrom, w->from, &opened, 1, 0);
    w->nfrom = opened;
    return rc;
}

int cmd_reencrypt(int argc, char **argv, cli_common *c)
{
    reenc_run w;
    memset(&w, 0, sizeof(w));
    int rc = parse(&w, c, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((rc = cli_lib_open(c, &w.lib)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_open_keks(w.lib, w.kek_uris, w.nk, w.keks)) != CLI_EXIT_OK)
        w.nk = 0;
    if (rc == CLI_EXIT_OK && (rc = cli_open_from(&w)) != CLI_EXIT_OK)
        w.nfrom = 0;
    if (rc == CLI_EXIT_OK) {
        for (int i = optind; i < argc; i++) {
            int frc = reencrypt_file(&w, argv[i], 1, c);
            if (frc != CLI_EXIT_OK) {
                w.b.failed++;
                if (w.b.rc == CLI_EXIT_OK)
                    w.b.rc = frc;
            }
        }
        fprintf(stderr, "envelope reencrypt: %zu reencrypted, %zu failed\n", w.b.done, w.b.failed);
        rc = w.b.rc;
    }
    cli_free_keks(w.keks, w.nk);
    cli_free_keks(w.from, w.nfrom);
    cli_lib_close(w.lib);
    return rc;
}
