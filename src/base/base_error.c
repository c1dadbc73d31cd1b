/* base_error.c: the one error enum's names and sentences. */
#include "base/base.h"

#define ERROR_NAME_(name, text) #name,
#define ERROR_TEXT_(name, text) text,
static const char *const error_names[] = {KHORGOS_ERRORS(ERROR_NAME_)};
static const char *const error_texts[] = {KHORGOS_ERRORS(ERROR_TEXT_)};
#undef ERROR_NAME_
#undef ERROR_TEXT_
_Static_assert(ARRAY_COUNT(error_names) == KHORGOS_ERROR_COUNT, "a name for every error");
_Static_assert(ARRAY_COUNT(error_texts) == KHORGOS_ERROR_COUNT, "a sentence for every error");

const char *khorgos_strerror(khorgos_error error) {
    if ((unsigned)error >= KHORGOS_ERROR_COUNT) return "unknown error";
    return error_texts[error];
}

const char *khorgos_error_name(khorgos_error error) {
    if ((unsigned)error >= KHORGOS_ERROR_COUNT) return "unknown";
    return error_names[error];
}
