/* The chat's sign-in (see chat_identity.h): the token secret, JWT verification and claims,
 * guests. */
#include "chat_identity.h"
#include "alloc.h"
#include "chat_store.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int chat_identity_init(chat_identity_t *idt, const chat_config_t *cfg, char *err, size_t errlen)
{
    memset(idt, 0, sizeof *idt);
    idt->cfg = cfg;
    const char *env = getenv("CHATNODE_JWT_SECRET");
    if (cfg->jwt_secret_file && *cfg->jwt_secret_file) {
        FILE *f = fopen(cfg->jwt_secret_file, "rb");
        if (!f) {
            snprintf(err, errlen, "cannot read %s: %s", cfg->jwt_secret_file, strerror(errno));
            return -1;
        }
        unsigned char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        if (!n) {
            snprintf(err, errlen, "%s is empty", cfg->jwt_secret_file);
            return -1;
        }
        idt->secret = xmemdup(buf, n);
        idt->secret_len = n;
    } else if (env && *env) {
        idt->secret_len = strlen(env);
        idt->secret = xmemdup(env, idt->secret_len);
    }
    return 0;
}

void chat_identity_free(chat_identity_t *idt)
{
    free(idt->secret);
    idt->secret = NULL;
    idt->secret_len = 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) / 1000.0;
}

/* A NumericDate claim (RFC 7519: seconds since the epoch, integer or fraction). Returns 1 with
 * *t set, 0 when the claim is absent, -1 when it is there but not a number. */
static int numeric_date(json_t *claims, const char *name, double *t)
{
    json_t *v = json_object_get(claims, name);
    if (!v) return 0;
    if (!json_is_number(v)) return -1;
    *t = json_number_value(v);
    return 1;
}

/* Does aud (a string or an array of strings) name audience? */
static int audience_matches(json_t *aud, const char *audience)
{
    if (json_is_string(aud)) return strcmp(json_string_value(aud), audience) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), audience) == 0) return 1;
    return 0;
}

/* Checks a verified token's claims; fills id and name (borrowed from claims). Returns NULL
 * or why the token is refused. */
static const char *check_claims(const chat_config_t *cfg, json_t *claims, const char **id,
                                size_t *idlen, const char **name, size_t *namelen)
{
    json_t *sub = json_object_get(claims, "sub"), *nm = json_object_get(claims, "name");
    double now = now_s(), leeway = (double)cfg->jwt_leeway, exp = 0, nbf = 0;
    int has_exp = numeric_date(claims, "exp", &exp), has_nbf = numeric_date(claims, "nbf", &nbf);
    if (has_exp < 0 || has_nbf < 0) return "exp and nbf must be numbers (NumericDate)";
    if (!has_exp && !cfg->jwt_allow_no_exp) return "token has no exp";
    if (has_exp && now >= exp + leeway) return "token expired";
    if (has_nbf && now + leeway < nbf) return "token not yet valid";
    if (cfg->jwt_issuer[0]) {
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), cfg->jwt_issuer) != 0)
            return "token has the wrong iss";
    }
    if (cfg->jwt_audience[0] &&
        !audience_matches(json_object_get(claims, "aud"), cfg->jwt_audience))
        return "token is not for this audience";
    if (!json_is_string(sub) ||
        chat_check_name(json_string_value(sub), json_string_length(sub)) != 0)
        return "token sub must be 1-64 characters, no control characters";
    if (json_string_length(sub) >= CHAT_GUEST_PREFIX_LEN &&
        memcmp(json_string_value(sub), CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN) == 0)
        return "token sub may not start with " CHAT_GUEST_PREFIX;
    if (nm && (!json_is_string(nm) ||
               chat_check_name(json_string_value(nm), json_string_length(nm)) != 0))
        return "token name must be 1-64 characters, no control characters";
    *id = json_string_value(sub);
    *idlen = json_string_length(sub);
    *name = nm ? json_string_value(nm) : *id;
    *namelen = nm ? json_string_length(nm) : *idlen;
    return NULL;
}

/* The claims of a token signed with our HS256 secret, as a JSON object (owned), or NULL. */
static json_t *verified_claims(const chat_identity_t *idt, const char *token)
{
    jwt_t *jwt = NULL;
    json_t *claims = NULL;
    if (jwt_decode(&jwt, token, idt->secret, (int)idt->secret_len) == 0 && jwt &&
        jwt_get_alg(jwt) == JWT_ALG_HS256) {
        char *text = jwt_get_grants_json(jwt, NULL);
        if (text) claims = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        free(text);
        if (!json_is_object(claims)) {
            json_decref(claims);
            claims = NULL;
        }
    }
    if (jwt) jwt_free(jwt);
    return claims;
}

const char *chat_identity_resolve(const chat_identity_t *idt, const char *auth, size_t auth_len,
                                  sbuf_t *id_out, sbuf_t *name_out)
{
    const chat_config_t *cfg = idt->cfg;
    json_t *a = json_loadb(auth, auth_len, 0, NULL), *claims = NULL;
    json_t *token = json_object_get(a, "token"), *user = json_object_get(a, "user");
    const char *id = NULL, *name = NULL, *why = NULL;
    size_t idlen = 0, namelen = 0;
    if (token && !json_is_string(token)) {
        why = "token must be a string";
    } else if (token && !idt->secret) {
        why = "tokens are not accepted: no secret configured";
    } else if (token) {
        claims = verified_claims(idt, json_string_value(token));
        why = claims ? check_claims(cfg, claims, &id, &idlen, &name, &namelen) : "invalid token";
    } else if (user && cfg->allow_anonymous) {
        if (!json_is_string(user) ||
            chat_check_name(json_string_value(user), json_string_length(user)) != 0) {
            why = "user must be a name of 1-64 characters, no control characters";
        } else {
            name = json_string_value(user);
            namelen = json_string_length(user);
            sbuf_append(id_out, CHAT_GUEST_PREFIX, CHAT_GUEST_PREFIX_LEN);
            sbuf_append(id_out, name, namelen);
            sbuf_append(name_out, name, namelen);
        }
    } else {
        why = cfg->allow_anonymous ? "missing token or user" : "missing token";
    }
    if (!why && id) {
        sbuf_append(id_out, id, idlen);
        sbuf_append(name_out, name, namelen);
    }
    json_decref(claims);
    json_decref(a);
    return why;
}
