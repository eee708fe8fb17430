/*
 * p11_aws_keygen.c - C_GenerateKey on an aws-kms slot (p11_aws.h): KMS
 * CreateKey (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) then CreateAlias with the
 * label, which must be "alias/NAME" (what the slot shows and URIs name).
 * If the alias cannot be made (it exists, or the identity may not), the
 * new key is scheduled for deletion (7 days, the shortest window) so no
 * nameless key is left behind, and the alias's error is returned.
 */
#include <stdio.h>
#include <string.h>

#include "aws_json.h"
#include "kms_diag.h"
#include "kms_log.h"
#include "p11_aws.h"

static aws_status call(aws_kms *k, const char *op, json_object *req, json_object **resp,
                       aws_kms_error *e)
{
    aws_status st = aws_kms_call(k, op, req, 0, resp, e); /* not idempotent: no resend */
    json_object_put(req);
    return st;
}

CK_RV kms_aws_generate(CK_SLOT_ID slot, const char *label, CK_OBJECT_HANDLE *out)
{
    aws_kms *k = g_kms.slots[slot].aws;
    if (strncmp(label, "alias/", 6) != 0 || strncmp(label, "alias/aws/", 10) == 0 ||
        strlen(label) < 7) {
        kms_diag_add("AWS KMS: a new key's label is its alias: alias/NAME (not alias/aws/...)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    aws_kms_error e;
    json_object *resp = NULL, *req = json_object_new_object();
    json_object_object_add(req, "AliasName", json_object_new_string(label));
    /* An existing alias would make the label name two keys: refuse first. */
    json_object *dreq = json_object_new_object();
    json_object_object_add(dreq, "KeyId", json_object_new_string(label));
    aws_status st = aws_kms_call(k, "DescribeKey", dreq, 1, &resp, &e);
    json_object_put(dreq);
    json_object_put(resp);
    resp = NULL;
    if (st == AWS_OK) {
        json_object_put(req);
        kms_diag_add("AWS KMS: %s exists already", label);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (st != AWS_E_NOT_FOUND) {
        json_object_put(req);
        return kms_aws_ckr(&e, "DescribeKey", label);
    }
    json_object *creq = json_object_new_object();
    json_object_object_add(creq, "KeySpec", json_object_new_string("SYMMETRIC_DEFAULT"));
    json_object_object_add(creq, "KeyUsage", json_object_new_string("ENCRYPT_DECRYPT"));
    json_object_object_add(creq, "Description", json_object_new_string("envelope KEK"));
    if (call(k, "CreateKey", creq, &resp, &e) != AWS_OK) {
        json_object_put(req);
        return kms_aws_ckr(&e, "CreateKey", label);
    }
    char kid[KMIP_MAX_UID + 1] = "";
    const char *id = aws_json_str(aws_json_path(resp, "KeyMetadata", NULL), "KeyId", NULL);
    if (id != NULL && strlen(id) <= 64)
        snprintf(kid, sizeof(kid), "%s", id);
    json_object_put(resp);
    resp = NULL;
    if (kid[0] == '\0') {
        json_object_put(req);
        kms_diag_add("AWS KMS CreateKey: the answer has no KeyId");
        return CKR_FUNCTION_FAILED;
    }
    json_object_object_add(req, "TargetKeyId", json_object_new_string(kid));
    if (call(k, "CreateAlias", req, &resp, &e) != AWS_OK) {
        CK_RV rv = kms_aws_ckr(&e, "CreateAlias", label);
        aws_kms_error e2;
        json_object *sreq = json_object_new_object(), *sresp = NULL;
        json_object_object_add(sreq, "KeyId", json_object_new_string(kid));
        json_object_object_add(sreq, "PendingWindowInDays", json_object_new_int(7));
        if (call(k, "ScheduleKeyDeletion", sreq, &sresp, &e2) != AWS_OK)
            kms_diag_add("AWS KMS: key %s has no alias and could not be scheduled for deletion",
                         kid);
        json_object_put(sresp);
        return rv;
    }
    json_object_put(resp);
    kms_debug("aws: created key %s as %s", kid, label);
    pthread_mutex_lock(&g_kms.lock);
    *out = kms_object_intern_aws(slot, kid, label, KMS_AWS_AES, 32, NULL, 0);
    pthread_mutex_unlock(&g_kms.lock);
    return *out != 0 ? CKR_OK : CKR_HOST_MEMORY;
}
