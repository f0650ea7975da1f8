/* Local room index of one namespace: room -> members and member -> rooms, both ways O(1) to
 * join and leave. A socket's own id is a room too, but a virtual one: the namespace resolves
 * it through its socket table, so no room is stored per socket. */
#ifndef CC_ROOM_H
#define CC_ROOM_H

#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

typedef struct room room_t;

/* What a member carries to be indexed: the caller embeds it in its socket struct. */
typedef struct {
    struct room_membership *rooms; /* owned array */
    uint32_t nrooms, cap;
} room_member_t;

typedef struct room_membership {
    room_t *room;
    uint32_t pos;   /* index in room->members */
    uint64_t stamp; /* the caller's: when the member joined (0 unless set) */
} room_membership_t;

typedef struct {
    room_member_t *member;
    uint32_t midx; /* index in member->rooms */
} room_slot_t;

struct room {
    char *name; /* NUL-terminated, in the same allocation (names may not contain NUL) */
    size_t len;
    room_slot_t *members; /* owned */
    uint32_t n, cap;
};

typedef struct {
    strmap_t rooms; /* name -> room_t */
} room_index_t;

/* Adds m to room name; returns 1 if added (the new membership is then m->rooms[m->nrooms - 1]),
 * 0 if it was already there. */
int room_join(room_index_t *ix, room_member_t *m, const char *name, size_t len);
/* Removes m from room name; returns 1 if removed, 0 if it was not there. Empty rooms go. */
int room_leave(room_index_t *ix, room_member_t *m, const char *name, size_t len);
/* Removes m from every room. */
void room_leave_all(room_index_t *ix, room_member_t *m);
/* The room, or NULL. */
room_t *room_find(const room_index_t *ix, const char *name, size_t len);
/* Is m in room name? */
int room_has(const room_index_t *ix, const room_member_t *m, const char *name, size_t len);
/* Frees the index (members must have left). */
void room_index_free(room_index_t *ix);

#endif
