#include "engine/status.h"

#include <stdarg.h>
#include <stdio.h>

graft_status
graft_error_set (graft_error *error, graft_status status, const char *format, ...)
{
  if (error != NULL)
    {
      va_list args;
      error->status = status;
      va_start (args, format);
      vsnprintf (error->message, sizeof error->message, format, args);
      va_end (args);
    }
  return status;
}

void
graft_error_clear (graft_error *error)
{
  if (error != NULL)
    {
      error->status = GRAFT_OK;
      error->message[0] = '\0';
    }
}

const char *
graft_status_name (graft_status status)
{
  switch (status)
    {
    case GRAFT_OK: return "ok";
    case GRAFT_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case GRAFT_ERROR_SHAPE: return "shape error";
    case GRAFT_ERROR_OVERFLOW: return "size overflow";
    case GRAFT_ERROR_OUT_OF_MEMORY: return "out of memory";
    case GRAFT_ERROR_UNSUPPORTED: return "unsupported";
    case GRAFT_ERROR_NUMERIC: return "numeric error";
    }
  return "unknown error";
}
