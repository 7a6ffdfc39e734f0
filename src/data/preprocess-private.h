/* preprocess-private.h: pieces of preprocessing shared with augmentation, and JSON
 * helpers (private to src/data/). */
#pragma once

#include <json-glib/json-glib.h>

#include "data/preprocess.h"

G_BEGIN_DECLS

/* torchvision's Resize(resize) + CenterCrop(size) of image into hwc, (size, size, 3)
 * floats, 0..255. */
void graft_resize_centre_crop (const GraftImage *image, int resize, int size, float *hwc);

/* hwc (side, side, 3) floats, 0..255 -> out as prep says (channels, order, layout). */
void graft_normalise (const float *hwc, int side, const GraftPreprocessing *prep, float *out);

/* Appends the shortest decimal that reads back as value; null when not finite. */
void graft_json_append_float (GString *out, float value);

/* JSON readers: errors are GRAFT_DATA_ERROR_INVALID, "what: \"key\" must be ...". */
JsonObject *graft_json_parse_object (const char *json, const char *what, GError **error);
gboolean graft_json_read_number (JsonObject *object, const char *what, const char *key, double *value,
                                 GError **error);
gboolean graft_json_read_int (JsonObject *object, const char *what, const char *key, int min, int max,
                              int *value, GError **error);
gboolean graft_json_read_bool (JsonObject *object, const char *what, const char *key, gboolean *value,
                               GError **error);

G_END_DECLS
