/* Origin policy: whether a request's Origin header is allowed by the --cors-origin list, or
 * names the same host as the request (what a browser sends for a page served by this node).
 * Pure: no I/O. */
#ifndef CC_ORIGIN_H
#define CC_ORIGIN_H

/* Does the comma-separated allow-list accept origin (compared byte for byte)? An item "*"
 * accepts every origin. */
int origin_allowed(const char *list, const char *origin);
/* Does the list hold the item "*"? */
int origin_list_has_wildcard(const char *list);
/* Is origin ("scheme://host[:port]") for the same host and port as the Host header host
 * ("host[:port]")? Host names compare without case; an Origin without a port has its
 * scheme's (80 for http and ws, 443 for https and wss); a Host without a port (what a proxy
 * passing nginx's $host sends) matches on the name alone. Returns 0 for anything malformed,
 * "null" included. */
int origin_same_host(const char *origin, const char *host);

#endif
