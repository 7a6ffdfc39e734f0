/* data-error.h: the error domain of the image data pipeline (src/data/).
 *
 * Every message names the file (or the name a caller gave for bytes in memory) and
 * says what is wrong: "photo.jpg: not a PNG or JPEG image". */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GRAFT_DATA_ERROR (graft_data_error_quark ())

typedef enum {
  GRAFT_DATA_ERROR_IO,          /* the file could not be read */
  GRAFT_DATA_ERROR_FORMAT,      /* not a PNG or JPEG image (or an unsupported one) */
  GRAFT_DATA_ERROR_CORRUPT,     /* a PNG or JPEG that the decoder rejects: truncated, bad CRC, ... */
  GRAFT_DATA_ERROR_TOO_LARGE,   /* dimensions beyond the limits (image.h) */
  GRAFT_DATA_ERROR_INVALID,     /* bad parameters: preprocessing, augmentation, loader options, JSON */
} GraftDataError;

GQuark graft_data_error_quark (void);

G_END_DECLS
