/* Routes of the cluster endpoints (api_cluster.c), with their OpenAPI descriptions. */
#include "api.h"
#include "api_cluster.h"

#define NSP_PARAM                                                                                  \
    {                                                                                              \
        "namespace", "query", 0,                                                                   \
            "{\"type\":\"string\",\"default\":\"/\",\"pattern\":\"^/[^#]*$\",\"maxLength\":200}",  \
            "the namespace", api_check_namespace                                                   \
    }
#define ROOM_SCHEMA "{\"type\":\"string\",\"minLength\":1,\"maxLength\":128}"
#define ROOM_DOC                                                                                   \
    "the room: 1-128 characters and at most 512 bytes of UTF-8, no control or text-direction "     \
    "characters (users' own rooms user:<id> and socket-id rooms included)"
#define ROOM_PARAM                                                                                 \
    {                                                                                              \
        "room", "path", 1, ROOM_SCHEMA, ROOM_DOC, api_check_room                                   \
    }
#define USER_PARAM                                                                                 \
    {                                                                                              \
        "user", "path", 1, "{\"type\":\"string\",\"minLength\":1,\"maxLength\":70}",               \
            "the user id (a token's sub, or guest:<name>): at most 70 characters and 262 bytes",   \
            api_check_user                                                                         \
    }
#define STATUS_PROPS                                                                               \
    "\"complete\":{\"type\":\"boolean\",\"description\":\"every server answered in time\"},"       \
    "\"servers\":{\"type\":\"integer\"},\"answered\":{\"type\":\"integer\"},"                      \
    "\"missing\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"                             \
    "\"description\":\"chatnodes listed as up that did not answer\"},"                             \
    "\"error\":{\"type\":\"string\",\"description\":\"why the answer is partial\"}"
#define OK_SCHEMA "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}"

static const char sockets_schema[] =
    "{\"type\":\"object\",\"properties\":{\"sockets\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"node\":{\"type\":\"string\",\"description\":\"uid of the chatnode holding it\"},"
    "\"rooms\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"address\":{\"type\":\"string\"},\"connected_at\":{\"type\":\"integer\"},"
    "\"user\":{\"type\":\"object\"}}}}," STATUS_PROPS "}}";
static const char rooms_schema[] =
    "{\"type\":\"object\",\"properties\":{\"rooms\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\",\"properties\":{\"room\":{\"type\":\"string\"},"
    "\"members\":{\"type\":\"integer\"}}}}," STATUS_PROPS "}}";
static const char users_schema[] =
    "{\"type\":\"object\",\"properties\":{\"users\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"name\":{\"type\":\"string\"},\"sockets\":{\"type\":\"integer\"}}}},"
    "\"total\":{\"type\":\"integer\"},\"offset\":{\"type\":\"integer\"},"
    "\"limit\":{\"type\":\"integer\"}," STATUS_PROPS "}}";
static const char members_schema[] =
    "{\"type\":\"object\",\"properties\":{\"room\":{\"type\":\"string\"},\"users\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"object\"}},\"sockets\":{\"type\":\"integer\"}"
    "," STATUS_PROPS "}}";
static const char history_schema[] =
    "{\"type\":\"object\",\"properties\":{\"room\":{\"type\":\"string\"},\"messages\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"ts\":{\"type\":\"integer\"},\"text\":{\"type\":\"string\"},"
    "\"from\":{\"type\":\"object\"}}}}}}";
static const char user_body_schema[] =
    "{\"type\":\"object\",\"required\":[\"user\"],\"properties\":{\"user\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":70,\"description\":\"a user id: at most 70 characters and 262 "
    "bytes\"}}}";
static const char message_body_schema[] =
    "{\"type\":\"object\",\"required\":[\"text\"],\"properties\":{\"text\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":4096},\"from\":{\"type\":\"string\",\"description\":"
    "\"the sender's name (default: system)\"}}}";
static const char user_emit_schema[] =
    "{\"type\":\"object\",\"required\":[\"event\"],\"properties\":{\"event\":{\"type\":"
    "\"string\",\"minLength\":1},\"args\":{\"type\":\"array\"}}}";
static const char kick_schema[] =
    "{\"type\":\"object\",\"properties\":{\"reason\":{\"type\":\"string\",\"maxLength\":512,"
    "\"description\":\"at most 512 bytes\"}}}";
static const char kicked_schema[] =
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},\"user\":{\"type\":"
    "\"string\"},\"disconnected\":{\"type\":\"integer\",\"description\":\"sockets found on the "
    "nodes that answered\"}," STATUS_PROPS "}}";
static const char posted_schema[] =
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},\"id\":{\"type\":"
    "\"string\"},\"ts\":{\"type\":\"integer\"}}}";

const api_route_t api_cluster_routes[] = {
    {
        .method = "GET",
        .pattern = "/api/v1/sockets",
        .scope = API_SCOPE_READ,
        .handler = api_sockets,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listSockets",
        .tag = "sockets",
        .summary = "The sockets of the whole cluster (never tokens or headers)",
        .params = {NSP_PARAM,
                   {"room", "query", 0, ROOM_SCHEMA, "only the sockets in this room",
                    api_check_room}},
        .responses = {{200, "the sockets, and whether every server answered", sockets_schema}},
    },
    {
        .method = "DELETE",
        .pattern = "/api/v1/sockets/{sid}",
        .scope = API_SCOPE_ADMIN,
        .handler = api_socket_delete,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "deleteSocket",
        .tag = "sockets",
        .summary = "Disconnect one socket, wherever it is",
        .params = {{"sid", "path", 1, "{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_-]{1,64}$\"}",
                    "the socket id", api_check_sid},
                   NSP_PARAM},
        .responses = {{200, "disconnected", OK_SCHEMA}, {404, "no such socket", NULL}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/rooms",
        .scope = API_SCOPE_READ,
        .handler = api_rooms,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listRooms",
        .tag = "rooms",
        .summary = "The rooms of the cluster with their member counts (socket-id rooms left out)",
        .params = {NSP_PARAM},
        .responses = {{200, "the rooms", rooms_schema}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/rooms/{room}/members",
        .scope = API_SCOPE_READ,
        .handler = api_room_members,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listRoomMembers",
        .tag = "rooms",
        .summary = "The users in a room, cluster-wide",
        .params = {ROOM_PARAM, NSP_PARAM},
        .responses = {{200, "the members", members_schema}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/rooms/{room}/join",
        .scope = API_SCOPE_ADMIN,
        .handler = api_room_join,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "joinRoom",
        .tag = "rooms",
        .summary = "Make every socket of a user join the room",
        .request_schema = user_body_schema,
        .params = {ROOM_PARAM, NSP_PARAM},
        .responses = {{202, "sent to every node", OK_SCHEMA}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/rooms/{room}/leave",
        .scope = API_SCOPE_ADMIN,
        .handler = api_room_leave,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "leaveRoom",
        .tag = "rooms",
        .summary = "Make every socket of a user leave the room",
        .request_schema = user_body_schema,
        .params = {ROOM_PARAM, NSP_PARAM},
        .responses = {{202, "sent to every node", OK_SCHEMA}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/rooms/{room}/history",
        .scope = API_SCOPE_READ,
        .handler = api_room_history,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "roomHistory",
        .tag = "rooms",
        .summary = "A room's chat history, newest last",
        .params = {ROOM_PARAM,
                   {"before", "query", 0,
                    "{\"type\":\"string\",\"pattern\":\"^[0-9]+(-[0-9]+)?$\"}",
                    "a message id: older ones", api_check_message_id},
                   {"limit", "query", 0, "{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}",
                    "at most this many (default 50)", api_check_count}},
        .responses = {{200, "the messages", history_schema}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/rooms/{room}/messages",
        .scope = API_SCOPE_ADMIN,
        .handler = api_room_message,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "postRoomMessage",
        .tag = "rooms",
        .summary = "A system message to a room, stored and delivered like any other",
        .request_schema = message_body_schema,
        .params = {ROOM_PARAM},
        .responses = {{201, "stored and sent", posted_schema}},
    },
    {
        .method = "GET",
        .pattern = "/api/v1/users",
        .scope = API_SCOPE_READ,
        .handler = api_users,
        .flags = API_ROUTE_NEEDS_BUS,
        .operation_id = "listUsers",
        .tag = "users",
        .summary = "The online users, sorted by id, paged",
        .params = {NSP_PARAM,
                   {"limit", "query", 0, "{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}",
                    "page size (default 100)", api_check_count},
                   {"offset", "query", 0, "{\"type\":\"integer\",\"minimum\":0}", "page start",
                    api_check_count}},
        .responses = {{200, "a page of users", users_schema}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/users/{user}/emit",
        .scope = API_SCOPE_ADMIN,
        .handler = api_user_emit,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "emitToUser",
        .tag = "users",
        .summary = "Emit an event to every socket of a user",
        .request_schema = user_emit_schema,
        .params = {USER_PARAM, NSP_PARAM},
        .responses = {{202, "sent to every node", OK_SCHEMA}},
    },
    {
        .method = "POST",
        .pattern = "/api/v1/users/{user}/disconnect",
        .scope = API_SCOPE_ADMIN,
        .handler = api_user_disconnect,
        .flags = API_ROUTE_BODY | API_ROUTE_NEEDS_BUS,
        .operation_id = "kickUser",
        .tag = "users",
        .summary = "Kick a user: every socket gets kicked {reason}, then is disconnected",
        .request_schema = kick_schema,
        .params = {USER_PARAM, NSP_PARAM},
        .responses = {{200, "how many sockets were disconnected", kicked_schema}},
    },
};

const size_t api_cluster_nroutes = sizeof api_cluster_routes / sizeof api_cluster_routes[0];
