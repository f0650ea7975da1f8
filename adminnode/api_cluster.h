/* The cluster endpoints (api_cluster.c): sockets, rooms, users, history, system messages. */
#ifndef CC_API_CLUSTER_H
#define CC_API_CLUSTER_H

#include "http_router.h"

#include <stddef.h>

/* Their routes, merged after api_routes[] into the router at start. */
extern const api_route_t api_cluster_routes[];
extern const size_t api_cluster_nroutes;

void api_sockets(api_request_t *req);
void api_socket_delete(api_request_t *req);
void api_rooms(api_request_t *req);
void api_room_members(api_request_t *req);
void api_room_join(api_request_t *req);
void api_room_leave(api_request_t *req);
void api_room_history(api_request_t *req);
void api_room_message(api_request_t *req);
void api_users(api_request_t *req);
void api_user_emit(api_request_t *req);
void api_user_disconnect(api_request_t *req);

/* Ends the pending cluster requests (their clients get their answers) and frees the state. */
void api_cluster_shutdown(void);
/* Makes the requester at start, once the bus is open: in the sharded format it subscribes its
 * answers channel then, so the first request does not race that subscription. */
void api_cluster_start(adminnode_t *an);

#endif
