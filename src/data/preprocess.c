/* preprocess.c: resize, centre crop, normalise; preprocessing as JSON. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "data/preprocess.h"
#include "data/preprocess-private.h"
#include "data/resample.h"

void
graft_preprocessing_init_imagenet (GraftPreprocessing *prep)
{
  *prep = (GraftPreprocessing) {
    .size = 224,
    .resize = 256,
    .mean = { 0.485f, 0.456f, 0.406f },
    .std = { 0.229f, 0.224f, 0.225f },
    .scale = 1.0f / 255.0f,
  };
}

int
graft_preprocessing_resize_side (const GraftPreprocessing *prep)
{
  return prep->resize > 0 ? prep->resize : prep->size;
}

int
graft_preprocessing_channels (const GraftPreprocessing *prep)
{
  return prep->grey ? 1 : 3;
}

gsize
graft_preprocessing_floats (const GraftPreprocessing *prep)
{
  return (gsize) graft_preprocessing_channels (prep) * prep->size * prep->size;
}

gboolean
graft_preprocessing_validate (const GraftPreprocessing *prep, GError **error)
{
  if (prep->size < 1 || prep->size > GRAFT_PREPROCESSING_MAX_SIZE)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("preprocessing: size %d is out of range (1..%d)"), prep->size, GRAFT_PREPROCESSING_MAX_SIZE);
      return FALSE;
    }
  if (prep->resize != 0 && (prep->resize < prep->size || prep->resize > GRAFT_PREPROCESSING_MAX_SIZE))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("preprocessing: resize %d must be 0 or between size (%d) and %d"),
                   prep->resize, prep->size, GRAFT_PREPROCESSING_MAX_SIZE);
      return FALSE;
    }
  if (!isfinite (prep->scale) || prep->scale == 0.0f)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("preprocessing: scale must be a non-zero number"));
      return FALSE;
    }
  const int channels = graft_preprocessing_channels (prep);
  for (int c = 0; c < channels; c++)
    if (!isfinite (prep->mean[c]) || !isfinite (prep->std[c]) || prep->std[c] == 0.0f)
      {
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                     _("preprocessing: mean and std must be numbers, std non-zero (channel %d)"), c);
        return FALSE;
      }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

/* The shortest decimal that reads back as the same float ("0.485", not
 * "0.48500001430511475"; "10", not "1e+01"). json-glib would print doubles with 17
 * digits, so objects are written by hand: flat, numbers and fixed strings only. */
void
graft_json_append_float (GString *out, float value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  if (!isfinite (value))
    {
      g_string_append (out, "null");   /* JSON has no NaN; reading it back fails */
      return;
    }
  if (value == floorf (value) && fabsf (value) < 1e9f)
    {
      g_string_append_printf (out, "%.0f", (double) value);
      return;
    }
  for (int digits = 1; digits <= 9; digits++)
    {
      char format[8];
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buffer, sizeof buffer, format, value);
      if ((float) g_ascii_strtod (buffer, NULL) == value)
        break;
    }
  g_string_append (out, buffer);
}

static void
append_floats (GString *out, const float *values, int n)
{
  g_string_append_c (out, '[');
  for (int i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      graft_json_append_float (out, values[i]);
    }
  g_string_append_c (out, ']');
}

char *
graft_preprocessing_to_json (const GraftPreprocessing *prep)
{
  const int channels = graft_preprocessing_channels (prep);
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "{\"size\": %d, \"resize\": %d, \"crop\": \"center\", \"mean\": ",
                          prep->size, graft_preprocessing_resize_side (prep));
  append_floats (out, prep->mean, channels);
  g_string_append (out, ", \"std\": ");
  append_floats (out, prep->std, channels);
  g_string_append (out, ", \"scale\": ");
  graft_json_append_float (out, prep->scale);
  g_string_append_printf (out, ", \"channels\": \"%s\", \"layout\": \"%s\"}",
                          prep->grey ? "L" : prep->bgr ? "BGR" : "RGB", prep->nhwc ? "NHWC" : "NCHW");
  return g_string_free (out, FALSE);
}

gboolean
graft_json_read_number (JsonObject *object, const char *what, const char *key, double *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node))
    {
      const GType type = json_node_get_value_type (node);
      if (type == G_TYPE_INT64 || type == G_TYPE_DOUBLE)
        {
          *value = json_node_get_double (node);
          if (isfinite (*value))
            return TRUE;
        }
    }
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID, _("%s: \"%s\" must be a number"), what, key);
  return FALSE;
}

gboolean
graft_json_read_int (JsonObject *object, const char *what, const char *key, int min, int max,
                     int *value, GError **error)
{
  double number;
  if (!graft_json_read_number (object, what, key, &number, error))
    return FALSE;
  if (number != floor (number) || number < min || number > max)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("%s: \"%s\" must be a whole number from %d to %d"), what, key, min, max);
      return FALSE;
    }
  *value = (int) number;
  return TRUE;
}

gboolean
graft_json_read_bool (JsonObject *object, const char *what, const char *key, gboolean *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID, _("%s: \"%s\" must be true or false"), what, key);
      return FALSE;
    }
  *value = json_node_get_boolean (node);
  return TRUE;
}

static const char *
read_string (JsonObject *object, const char *key)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
read_triple (JsonObject *object, const char *key, float values[3], GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  JsonArray *array = node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  const guint n = array != NULL ? json_array_get_length (array) : 0;
  if (n != 1 && n != 3)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   _("preprocessing: \"%s\" must be an array of 1 or 3 numbers"), key);
      return FALSE;
    }
  for (guint i = 0; i < 3; i++)
    {
      JsonNode *element = json_array_get_element (array, n == 1 ? 0 : i);
      if (!JSON_NODE_HOLDS_VALUE (element)
          || (json_node_get_value_type (element) != G_TYPE_INT64
              && json_node_get_value_type (element) != G_TYPE_DOUBLE))
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                       _("preprocessing: \"%s\" must be an array of 1 or 3 numbers"), key);
          return FALSE;
        }
      values[i] = (float) json_node_get_double (element);
    }
  return TRUE;
}

JsonObject *
graft_json_parse_object (const char *json, const char *what, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, &parse_error))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID, _("%s: invalid JSON (%s)"), what,
                   parse_error != NULL ? parse_error->message : "no text");
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID, _("%s: the JSON must be an object"), what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

gboolean
graft_preprocessing_from_json (const char *json, GraftPreprocessing *prep_out, GError **error)
{
  static const char what[] = "preprocessing";
  g_autoptr (JsonObject) object = graft_json_parse_object (json, what, error);
  if (object == NULL)
    return FALSE;

  GraftPreprocessing prep;
  graft_preprocessing_init_imagenet (&prep);

  if (json_object_has_member (object, "size")
      && !graft_json_read_int (object, what, "size", 1, GRAFT_PREPROCESSING_MAX_SIZE, &prep.size, error))
    return FALSE;
  if (json_object_has_member (object, "resize")
      && !graft_json_read_int (object, what, "resize", 0, GRAFT_PREPROCESSING_MAX_SIZE, &prep.resize, error))
    return FALSE;
  if (json_object_has_member (object, "crop"))
    {
      const char *crop = read_string (object, "crop");
      if (g_strcmp0 (crop, "center") != 0 && g_strcmp0 (crop, "centre") != 0)
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                       _("preprocessing: \"crop\" must be \"center\""));
          return FALSE;
        }
    }
  if (json_object_has_member (object, "mean") && !read_triple (object, "mean", prep.mean, error))
    return FALSE;
  if (json_object_has_member (object, "std") && !read_triple (object, "std", prep.std, error))
    return FALSE;
  if (json_object_has_member (object, "scale"))
    {
      double scale;
      if (!graft_json_read_number (object, what, "scale", &scale, error))
        return FALSE;
      prep.scale = (float) scale;
    }
  if (json_object_has_member (object, "channels"))
    {
      const char *channels = read_string (object, "channels");
      if (g_strcmp0 (channels, "RGB") == 0)
        prep.bgr = prep.grey = FALSE;
      else if (g_strcmp0 (channels, "BGR") == 0)
        prep.bgr = TRUE, prep.grey = FALSE;
      else if (g_strcmp0 (channels, "L") == 0)
        prep.bgr = FALSE, prep.grey = TRUE;
      else
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                       _("preprocessing: \"channels\" must be \"RGB\", \"BGR\" or \"L\""));
          return FALSE;
        }
    }
  if (json_object_has_member (object, "layout"))
    {
      const char *layout = read_string (object, "layout");
      if (g_strcmp0 (layout, "NCHW") == 0)
        prep.nhwc = FALSE;
      else if (g_strcmp0 (layout, "NHWC") == 0)
        prep.nhwc = TRUE;
      else
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                       _("preprocessing: \"layout\" must be \"NCHW\" or \"NHWC\""));
          return FALSE;
        }
    }
  if (!graft_preprocessing_validate (&prep, error))
    return FALSE;
  *prep_out = prep;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The transform                                                            */

void
graft_normalise (const float *hwc, int side, const GraftPreprocessing *prep, float *out)
{
  const gsize pixels = (gsize) side * side;

  if (prep->grey)
    {
      const float a = prep->scale / prep->std[0], b = -prep->mean[0] / prep->std[0];
      for (gsize i = 0; i < pixels; i++)
        {
          const float *p = hwc + 3 * i;
          const float luma = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
          out[i] = luma * a + b;
        }
      return;
    }

  /* Output channel k reads source channel src[k]; mean and std are in output order. */
  const int src[3] = { prep->bgr ? 2 : 0, 1, prep->bgr ? 0 : 2 };
  float a[3], b[3];
  for (int k = 0; k < 3; k++)
    {
      a[k] = prep->scale / prep->std[k];
      b[k] = -prep->mean[k] / prep->std[k];
    }
  if (prep->nhwc)
    for (gsize i = 0; i < pixels; i++)
      for (int k = 0; k < 3; k++)
        out[3 * i + k] = hwc[3 * i + src[k]] * a[k] + b[k];
  else
    for (int k = 0; k < 3; k++)
      {
        float *plane = out + k * pixels;
        for (gsize i = 0; i < pixels; i++)
          plane[i] = hwc[3 * i + src[k]] * a[k] + b[k];
      }
}

void
graft_resize_centre_crop (const GraftImage *image, int resize, int size, float *hwc)
{
  const int w = image->width, h = image->height;
  int nw, nh;
  /* torchvision: the shorter side becomes resize, the longer int(resize * long / short). */
  if (w <= h)
    {
      nw = resize;
      nh = (int) ((double) resize * h / w);
    }
  else
    {
      nh = resize;
      nw = (int) ((double) resize * w / h);
    }
  nw = MAX (nw, size);
  nh = MAX (nh, size);
  const int left = graft_centre_offset (nw - size), top = graft_centre_offset (nh - size);
  graft_resample_window (image, 0, 0, w, h, nw, nh, left, top, size, size, hwc);
}

void
graft_preprocess (const GraftImage *image, const GraftPreprocessing *prep, float *out)
{
  const int size = prep->size;
  float *hwc = g_new (float, (gsize) size * size * 3);
  graft_resize_centre_crop (image, graft_preprocessing_resize_side (prep), size, hwc);
  graft_normalise (hwc, size, prep, out);
  g_free (hwc);
}
