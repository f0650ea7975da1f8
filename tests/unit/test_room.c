/* Unit tests for chatnode/room.c: joins and leaves from both sides, swap-removal keeping both
 * indexes consistent, empty rooms disappearing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "room.h"

#include <string.h>

/* Every membership points at a slot that points back at it. */
static void check_consistent(room_index_t *ix, room_member_t *ms, int n)
{
    for (int i = 0; i < n; i++) {
        for (uint32_t j = 0; j < ms[i].nrooms; j++) {
            room_membership_t *rm = &ms[i].rooms[j];
            assert_true(rm->pos < rm->room->n);
            assert_ptr_equal(rm->room->members[rm->pos].member, &ms[i]);
            assert_int_equal(rm->room->members[rm->pos].midx, j);
            assert_ptr_equal(room_find(ix, rm->room->name, rm->room->len), rm->room);
        }
    }
}

static void test_join_leave(void **state)
{
    (void)state;
    room_index_t ix = {STRMAP_INIT};
    room_member_t a = {0}, b = {0};
    assert_int_equal(room_join(&ix, &a, "r1", 2), 1);
    assert_int_equal(room_join(&ix, &a, "r1", 2), 0); /* already there */
    assert_int_equal(room_join(&ix, &b, "r1", 2), 1);
    assert_int_equal(room_join(&ix, &a, "r2", 2), 1);
    room_t *r1 = room_find(&ix, "r1", 2);
    assert_non_null(r1);
    assert_int_equal(r1->n, 2);
    assert_true(room_has(&ix, &a, "r2", 2));
    assert_false(room_has(&ix, &b, "r2", 2));
    assert_false(room_has(&ix, &b, "nope", 4));
    check_consistent(&ix, &a, 1);
    check_consistent(&ix, &b, 1);

    assert_int_equal(room_leave(&ix, &a, "r1", 2), 1);
    assert_int_equal(room_leave(&ix, &a, "r1", 2), 0);
    assert_int_equal(room_leave(&ix, &a, "zz", 2), 0);
    assert_int_equal(r1->n, 1);
    check_consistent(&ix, &a, 1);
    check_consistent(&ix, &b, 1);

    room_leave_all(&ix, &a);
    assert_null(room_find(&ix, "r2", 2)); /* its last member left */
    assert_int_equal(a.nrooms, 0);
    assert_null(a.rooms);
    room_leave_all(&ix, &b);
    assert_null(room_find(&ix, "r1", 2));
    assert_int_equal(ix.rooms.count, 0);
    room_index_free(&ix);
}

static void test_many_members(void **state)
{
    (void)state;
    enum { N = 200, R = 5 };
    static room_member_t ms[N];
    static const char *names[R] = {"a", "b", "c", "d", "e"};
    room_index_t ix = {STRMAP_INIT};
    memset(ms, 0, sizeof ms);
    for (int i = 0; i < N; i++)
        for (int r = 0; r < R; r++)
            if ((i + r) % 2 == 0 || r == 0) room_join(&ix, &ms[i], names[r], 1);
    check_consistent(&ix, ms, N);
    assert_int_equal(room_find(&ix, "a", 1)->n, N);
    /* Leave in an order that exercises the swap of middle elements on both sides. */
    for (int i = 0; i < N; i += 3) room_leave(&ix, &ms[i], "a", 1);
    for (int i = N - 1; i >= 0; i -= 7) room_leave(&ix, &ms[i], "c", 1);
    check_consistent(&ix, ms, N);
    for (int i = 0; i < N; i++) room_leave_all(&ix, &ms[i]);
    assert_int_equal(ix.rooms.count, 0);
    room_index_free(&ix);
}

static void test_free_with_members(void **state)
{
    (void)state;
    room_index_t ix = {STRMAP_INIT};
    room_member_t a = {0};
    room_join(&ix, &a, "x", 1);
    room_join(&ix, &a, "y", 1);
    room_leave_all(&ix, &a);
    room_index_free(&ix);
    assert_int_equal(ix.rooms.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_leave),
        cmocka_unit_test(test_many_members),
        cmocka_unit_test(test_free_with_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
