/* Room index with swap-remove arrays on both sides (see room.h). */
#include "room.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

room_t *room_find(const room_index_t *ix, const char *name, size_t len)
{
    return strmap_get(&ix->rooms, name, len);
}

int room_has(const room_index_t *ix, const room_member_t *m, const char *name, size_t len)
{
    room_t *r = room_find(ix, name, len);
    if (!r) return 0;
    for (uint32_t i = 0; i < m->nrooms; i++)
        if (m->rooms[i].room == r) return 1;
    return 0;
}

int room_join(room_index_t *ix, room_member_t *m, const char *name, size_t len)
{
    room_t *r = room_find(ix, name, len);
    if (!r) {
        r = xcalloc(1, sizeof *r + len + 1); /* the name lives after the struct */
        r->name = memcpy((char *)(r + 1), name, len);
        r->len = len;
        strmap_put(&ix->rooms, r->name, r->len, r);
    } else {
        for (uint32_t i = 0; i < m->nrooms; i++)
            if (m->rooms[i].room == r) return 0;
    }
    /* arrays start at one entry: most rooms (a user's own) and most sockets hold one */
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1;
        r->members = xrealloc(r->members, r->cap * sizeof *r->members);
    }
    if (m->nrooms == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1;
        m->rooms = xrealloc(m->rooms, m->cap * sizeof *m->rooms);
    }
    r->members[r->n] = (room_slot_t){m, m->nrooms};
    m->rooms[m->nrooms] = (room_membership_t){r, r->n, 0};
    r->n++;
    m->nrooms++;
    return 1;
}

/* Removes membership i of m. */
static void remove_at(room_index_t *ix, room_member_t *m, uint32_t i)
{
    room_t *r = m->rooms[i].room;
    uint32_t pos = m->rooms[i].pos;

    /* room side: move the last member into pos */
    room_slot_t last = r->members[--r->n];
    if (pos != r->n) {
        r->members[pos] = last;
        last.member->rooms[last.midx].pos = pos;
    }
    /* member side: move the last membership into i */
    room_membership_t lastm = m->rooms[--m->nrooms];
    if (i != m->nrooms) {
        m->rooms[i] = lastm;
        lastm.room->members[lastm.pos].midx = i;
    }
    if (m->nrooms == 0) {
        free(m->rooms);
        m->rooms = NULL;
        m->cap = 0;
    }
    if (r->n == 0) {
        strmap_del(&ix->rooms, r->name, r->len);
        free(r->members);
        free(r);
    }
}

int room_leave(room_index_t *ix, room_member_t *m, const char *name, size_t len)
{
    room_t *r = room_find(ix, name, len);
    if (!r) return 0;
    for (uint32_t i = 0; i < m->nrooms; i++) {
        if (m->rooms[i].room == r) {
            remove_at(ix, m, i);
            return 1;
        }
    }
    return 0;
}

void room_leave_all(room_index_t *ix, room_member_t *m)
{
    while (m->nrooms) remove_at(ix, m, m->nrooms - 1);
}

void room_index_free(room_index_t *ix)
{
    void *v;
    for (size_t i = 0; strmap_next(&ix->rooms, &i, NULL, NULL, &v);) {
        room_t *r = v;
        free(r->members);
        free(r);
    }
    strmap_free(&ix->rooms);
}
