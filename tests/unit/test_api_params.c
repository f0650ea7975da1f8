/* Unit tests for adminnode/api_params.c: the rules of path and query parameters at their
 * limits, one past them, with a multi-byte character straddling the byte limit, invalid UTF-8
 * (stray byte, overlong, surrogate), NUL and other controls, separators, right-to-left and
 * combining characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_params.h"
#include "chat_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*check_fn)(const char *, size_t, char *, size_t);

/* Runs check on s[0..len) and fails when the verdict is not ok (with the reason). */
static void expect(check_fn check, const char *name, const char *s, size_t len, int ok)
{
    char why[160] = "";
    int rc = check(s, len, why, sizeof why);
    if ((rc == 0) != ok)
        fail_msg("%s on \"%.40s\"... (%zu bytes): %s", name, s, len, ok ? why : "accepted");
    if (rc < 0 && why[0] == '\0') fail_msg("%s gave no reason", name);
}
#define OK(fn, s)      expect(fn, #fn, s, strlen(s), 1)
#define BAD(fn, s)     expect(fn, #fn, s, strlen(s), 0)
#define OKN(fn, s, n)  expect(fn, #fn, s, n, 1)
#define BADN(fn, s, n) expect(fn, #fn, s, n, 0)

/* n copies of unit (a UTF-8 character or more), NUL-terminated, malloc'ed. */
static char *rep(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    for (size_t i = 0; i < n; i++) memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

static char *cat(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 1);
    strcpy(s, a);
    strcat(s, b);
    return s;
}

static const char *const invalid_utf8[] = {
    "\xff",
    "a\xff"
    "b",
    "\xc0\xaf",
    "\xe0\x80\xaf",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xc3",
};

static void test_text(void **state)
{
    (void)state;
    OK(api_check_text, "");
    OK(api_check_text, "plain: a/b c#d?e&f=g");
    OK(api_check_text, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"); /* Hebrew */
    char *s = rep("a", API_PARAM_MAX_BYTES);
    OK(api_check_text, s);
    free(s);
    s = rep("a", API_PARAM_MAX_BYTES + 1);
    BAD(api_check_text, s);
    free(s);
    /* a 4-byte character straddling the limit */
    char *a = rep("a", API_PARAM_MAX_BYTES - 2);
    s = cat(a, "\xf0\x9f\x98\x80");
    BAD(api_check_text, s);
    free(s);
    free(a);
    for (size_t i = 0; i < sizeof invalid_utf8 / sizeof invalid_utf8[0]; i++)
        BAD(api_check_text, invalid_utf8[i]);
    BADN(api_check_text, "a\0b", 3);
    BAD(api_check_text, "a\nb");
    BAD(api_check_text, "a\x1b[31m");
    BAD(api_check_text, "\x7f");
}

static void test_room(void **state)
{
    (void)state;
    OK(api_check_room, "lobby");
    OK(api_check_room, "user:alice"); /* an administrator may name any room */
    OK(api_check_room, "a:b#c/d%e");
    OK(api_check_room, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"); /* right-to-left letters */
    OK(api_check_room, "e\xcc\x81");                        /* a combining accent */
    BAD(api_check_room, "");
    BAD(api_check_room, "a\xe2\x80\xae"
                        "b"); /* RIGHT-TO-LEFT OVERRIDE */
    BAD(api_check_room, "a\xe2\x81\xa6"
                        "b"); /* an isolate */
    BAD(api_check_room, "a\tb");
    BADN(api_check_room, "a\0b", 3);
    for (size_t i = 0; i < sizeof invalid_utf8 / sizeof invalid_utf8[0]; i++)
        BAD(api_check_room, invalid_utf8[i]);
    char *s = rep("a", CHAT_ROOM_MAX_CHARS);
    OK(api_check_room, s);
    free(s);
    s = rep("a", CHAT_ROOM_MAX_CHARS + 1);
    BAD(api_check_room, s);
    free(s);
    /* 128 four-byte characters: exactly 512 bytes */
    s = rep("\xf0\x9f\x98\x80", CHAT_ROOM_MAX_CHARS);
    OK(api_check_room, s);
    free(s);
    s = rep("\xf0\x9f\x98\x80", CHAT_ROOM_MAX_CHARS + 1);
    BAD(api_check_room, s);
    free(s);
    /* combining marks count as characters */
    char *marks = rep("\xcc\x81", CHAT_ROOM_MAX_CHARS - 1);
    s = cat("e", marks);
    OK(api_check_room, s);
    free(s);
    free(marks);
    marks = rep("\xcc\x81", CHAT_ROOM_MAX_CHARS);
    s = cat("e", marks);
    BAD(api_check_room, s);
    free(s);
    free(marks);
}

static void test_user(void **state)
{
    (void)state;
    OK(api_check_user, "alice");
    OK(api_check_user, "guest:alice");
    BAD(api_check_user, "");
    BAD(api_check_user, "\xff");
    BAD(api_check_user, "a\xe2\x80\xae");
    /* the byte limit (262) binds before the character limit (70) for 4-byte characters */
    char *e = rep("\xf0\x9f\x98\x80", 65); /* 260 bytes */
    char *s = cat(e, "ab");                /* 262 bytes, 67 characters */
    OK(api_check_user, s);
    free(s);
    s = cat(e, "abc"); /* 263 */
    BAD(api_check_user, s);
    free(s);
    /* a character straddling the limit: it starts at byte 261 and ends at 265 */
    char *a = cat(e, "a");
    s = cat(a, "\xf0\x9f\x98\x80");
    BAD(api_check_user, s);
    free(s);
    free(a);
    free(e);
    s = rep("a", CHAT_USER_ID_MAX_CHARS);
    OK(api_check_user, s);
    free(s);
    s = rep("a", CHAT_USER_ID_MAX_CHARS + 1);
    BAD(api_check_user, s);
    free(s);
    /* 64 emoji and the guest prefix: the longest guest id */
    e = rep("\xf0\x9f\x98\x80", 64);
    s = cat("guest:", e);
    OK(api_check_user, s);
    free(s);
    free(e);
}

static void test_sid_node_nsp(void **state)
{
    (void)state;
    OK(api_check_sid, "AbC-_09xyzAbC-_09xyz");
    BAD(api_check_sid, "");
    BAD(api_check_sid, "a:b");
    BAD(api_check_sid, "a.b");
    BAD(api_check_sid, "a/b");
    BAD(api_check_sid, "\xc3\xa9");
    char *s = rep("a", API_SID_MAX);
    OK(api_check_sid, s);
    free(s);
    s = rep("a", API_SID_MAX + 1);
    BAD(api_check_sid, s);
    free(s);

    OK(api_check_node_id, "AbC123");
    OK(api_check_node_id, "a b"); /* names no node: the registry answers 404 */
    OK(api_check_node_id, "n:1#x");
    BAD(api_check_node_id, "");
    BAD(api_check_node_id, "\xc3\xa9");
    BAD(api_check_node_id, "a\tb");
    s = rep("n", 64);
    OK(api_check_node_id, s);
    free(s);
    s = rep("n", 65);
    BAD(api_check_node_id, s);
    free(s);

    OK(api_check_namespace, "/");
    OK(api_check_namespace, "/chat");
    OK(api_check_namespace, "/\xd7\xa9");
    BAD(api_check_namespace, "");
    BAD(api_check_namespace, "chat");
    BAD(api_check_namespace, "/a#b"); /* the bus's separator */
    BAD(api_check_namespace, "/\xff");
    BAD(api_check_namespace, "/a\nb");
    char *tail = rep("a", API_NSP_MAX - 1);
    s = cat("/", tail);
    OK(api_check_namespace, s);
    free(s);
    free(tail);
    tail = rep("a", API_NSP_MAX);
    s = cat("/", tail);
    BAD(api_check_namespace, s);
    free(s);
    free(tail);
}

static void test_ids_and_counts(void **state)
{
    (void)state;
    OK(api_check_message_id, "1700000000000-0");
    OK(api_check_message_id, "1700000000000");
    OK(api_check_message_id, "12345678901234567890-12345678901234567890"); /* 41 bytes */
    BAD(api_check_message_id, "123456789012345678901-0");
    BAD(api_check_message_id, "1-");
    BAD(api_check_message_id, "-1");
    BAD(api_check_message_id, "1-2-3");
    BAD(api_check_message_id, "1 -2");
    BAD(api_check_message_id, "");
    BAD(api_check_message_id, "+");

    OK(api_check_count, "0");
    OK(api_check_count, "100");
    OK(api_check_count, "123456789");
    BAD(api_check_count, "1234567890");
    BAD(api_check_count, "-1");
    BAD(api_check_count, "+1");
    BAD(api_check_count, " 5");
    BAD(api_check_count, "1e3");
    BAD(api_check_count, "0x10");
    BAD(api_check_count, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),           cmocka_unit_test(test_room),
        cmocka_unit_test(test_user),           cmocka_unit_test(test_sid_node_nsp),
        cmocka_unit_test(test_ids_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
