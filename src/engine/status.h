/* status.h: status codes and error messages of the engine.
 *
 * The engine never exits or aborts because of data: every fallible call returns
 * a graft_status and, when given a graft_error, a message that says what is wrong.
 */
#pragma once

#include <stddef.h>

typedef enum {
  GRAFT_OK = 0,
  GRAFT_ERROR_INVALID_ARGUMENT, /* a caller passed something that makes no sense */
  GRAFT_ERROR_SHAPE,            /* shapes do not fit together */
  GRAFT_ERROR_OVERFLOW,         /* a size computation overflows */
  GRAFT_ERROR_OUT_OF_MEMORY,
  GRAFT_ERROR_UNSUPPORTED,      /* valid, but not something the engine does */
  GRAFT_ERROR_NUMERIC,          /* NaN or infinity where a number was needed */
} graft_status;

#define GRAFT_ERROR_MESSAGE_SIZE 512

typedef struct {
  graft_status status;
  char message[GRAFT_ERROR_MESSAGE_SIZE];
} graft_error;

/* Records status and a printf-style message in error (which may be NULL)
 * and returns status, so that callers can write
 *   return graft_error_set (error, GRAFT_ERROR_SHAPE, "conv: ...");  */
graft_status graft_error_set (graft_error *error, graft_status status, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

/* Resets error to GRAFT_OK with an empty message. */
void graft_error_clear (graft_error *error);

/* A short English name for status ("shape error", ...). */
const char *graft_status_name (graft_status status);
