/* sanitizer.h: TEST_SANITIZED is defined in a build with AddressSanitizer (make test's asan
 * tier), where every access is checked and every large allocation mapped and poisoned, so a
 * test costs several times its plain CPU. The randomised and exhaustive tests that define their
 * counts by it run fewer there; the plain tier (and make test-long) runs the full counts. */
#ifndef KHORGOS_TEST_SANITIZER_H
#define KHORGOS_TEST_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif

#endif /* KHORGOS_TEST_SANITIZER_H */
