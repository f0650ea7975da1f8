/* Who a chat client is, from its handshake auth: a user named by an HS256 JWT in auth.token
 * (libjwt; claims checked against the --jwt-* settings), or, with --allow-anonymous, a guest
 * named by auth.user, whose id is "guest:<name>". A token's sub may not start with that
 * prefix, so a guest can never pass for a token user. */
#ifndef CC_CHAT_IDENTITY_H
#define CC_CHAT_IDENTITY_H

#include "chat_config.h"
#include "sbuf.h"

#include <stddef.h>

typedef struct {
    const chat_config_t *cfg; /* borrowed */
    unsigned char *secret;    /* the HS256 key (owned), or NULL: tokens are refused */
    size_t secret_len;
} chat_identity_t;

/* Reads the secret from --jwt-secret-file, else from CHATNODE_JWT_SECRET (none is no error:
 * then only guests get in, when allowed). Returns 0, or -1 with a message in err (a file that
 * cannot be read, or is empty). */
int chat_identity_init(chat_identity_t *idt, const chat_config_t *cfg, char *err, size_t errlen);
/* Releases the secret. */
void chat_identity_free(chat_identity_t *idt);

/* Who the handshake auth (JSON object text) names. Returns NULL with the user's id and name
 * appended to id and name (UTF-8, checked by chat_check_name or as a guest id), or why the
 * client is refused (static text, for its CONNECT_ERROR). */
const char *chat_identity_resolve(const chat_identity_t *idt, const char *auth, size_t auth_len,
                                  sbuf_t *id, sbuf_t *name);

#endif
