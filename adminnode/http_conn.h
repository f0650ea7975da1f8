/* The connections of adminnode's HTTP server as MHD reports them (MHD_OPTION_NOTIFY_CONNECTION),
 * and their deadlines. MHD's own timeout is an idle timeout that every byte resets, so a client
 * trickling bytes could hold a connection for ever. Here each connection is in at most one
 * deadline list, by phase: its request head must be complete within the head delay of its
 * start; its body within the body delay of the head's end; between two requests, the next head
 * within the idle delay of the previous answer. One timer serves the three lists. A connection
 * past its deadline is cut: shutdown(2) on its socket, which MHD sees as the client leaving,
 * so MHD closes and cleans it up itself, whatever state its parser is in. The connections of
 * each client address are counted, and a new one past the per-address limit is refused at
 * accept (MHD's own per-address limit has no exemptions: a reverse proxy needs one). */
#ifndef CC_HTTP_CONN_H
#define CC_HTTP_CONN_H

#include "http_linger.h"
#include "client_addr.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef enum { HC_HEAD = 0, HC_BODY = 1, HC_IDLE = 2 } hc_phase_t;
#define HC_NPHASES 3
#define HC_NONE    (-1) /* in no list: a handler, or MHD, has the connection */

typedef struct http_conns http_conns_t;
typedef struct http_conn http_conn_t;

typedef struct {
    uint64_t delay_ms[HC_NPHASES]; /* by hc_phase_t */
    http_linger_t *linger;         /* borrowed: where sockets marked by http_conn_linger go */
    unsigned per_ip;               /* open connections one client address may have */
    const client_cidrs_t *exempt;  /* borrowed: addresses without that limit (may be NULL) */
    void (*kick)(void *ud);        /* called after a cut, so that MHD runs soon */
    void *ud;
} http_conns_options_t;

/* Never fails; free with http_conns_close. */
http_conns_t *http_conns_new(uv_loop_t *loop, const http_conns_options_t *o);

/* The MHD_NotifyConnectionCallback to register, cls being the http_conns_t: a started
 * connection enters the head list; a closed one leaves its list and is freed (its socket is
 * handed to the lingerer first when it was marked). */
void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);

/* The MHD_AcceptPolicyCallback to register, cls being the http_conns_t: refuses a connection
 * from an address that has per_ip open already (unless it is exempt). */
enum MHD_Result http_conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/* The connection of an MHD connection, or NULL (borrowed; valid until MHD closes it). */
http_conn_t *http_conn_of(struct MHD_Connection *conn);

/* Moves c to the list of phase (its deadline starting now), or out of every list with
 * HC_NONE. NULL is a no-op. */
void http_conn_phase(http_conn_t *c, int phase);

/* Marks c to linger when MHD closes it (it was answered before its body was read). NULL is a
 * no-op. */
void http_conn_linger(http_conn_t *c);

/* Connections open now; connections cut in phase p since the start; connections refused
 * for the per-address limit since the start. */
size_t http_conns_open(const http_conns_t *cs);
/* Connections started since the start. */
uint64_t http_conns_started(const http_conns_t *cs);
uint64_t http_conns_cut(const http_conns_t *cs, hc_phase_t p);
uint64_t http_conns_refused(const http_conns_t *cs);

/* Stops cutting and lingering (call before MHD_stop_daemon, whose closing notices still come
 * here); then http_conns_close frees cs from the loop and done (may be NULL) fires. */
void http_conns_stop(http_conns_t *cs);
void http_conns_close(http_conns_t *cs, void (*done)(void *ud), void *ud);

#endif
