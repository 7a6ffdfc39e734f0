/* graft-series.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-series.h"

struct _GraftSeries
{
  GObject parent_instance;

  char *name;
  char *label;
  GArray *x;
  GArray *y;
};

G_DEFINE_FINAL_TYPE (GraftSeries, graft_series, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_LABEL, PROP_LENGTH, N_PROPS };
enum { CHANGED, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
graft_series_finalize (GObject *object)
{
  GraftSeries *self = GRAFT_SERIES (object);

  g_free (self->name);
  g_free (self->label);
  g_array_unref (self->x);
  g_array_unref (self->y);

  G_OBJECT_CLASS (graft_series_parent_class)->finalize (object);
}

static void
graft_series_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftSeries *self = GRAFT_SERIES (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_LENGTH:
      g_value_set_uint (value, self->x->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_series_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftSeries *self = GRAFT_SERIES (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_LABEL:
      self->label = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_series_class_init (GraftSeriesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = graft_series_finalize;
  object_class->get_property = graft_series_get_property;
  object_class->set_property = graft_series_set_property;

  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LABEL] = g_param_spec_string ("label", NULL, NULL, NULL,
                                                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LENGTH] = g_param_spec_uint ("length", NULL, NULL, 0, G_MAXUINT, 0,
                                               G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);
}

static void
graft_series_init (GraftSeries *self)
{
  self->x = g_array_new (FALSE, FALSE, sizeof (double));
  self->y = g_array_new (FALSE, FALSE, sizeof (double));
}

GraftSeries *
graft_series_new (const char *name, const char *label)
{
  return g_object_new (GRAFT_TYPE_SERIES, "name", name, "label", label, NULL);
}

const char *
graft_series_get_name (GraftSeries *self)
{
  g_return_val_if_fail (GRAFT_IS_SERIES (self), NULL);
  return self->name;
}

const char *
graft_series_get_label (GraftSeries *self)
{
  g_return_val_if_fail (GRAFT_IS_SERIES (self), NULL);
  return self->label != NULL ? self->label : self->name;
}

void
graft_series_append_many (GraftSeries *self, const double *x, const double *y, guint n)
{
  g_return_if_fail (GRAFT_IS_SERIES (self));
  if (n == 0)
    return;
  g_array_append_vals (self->x, x, n);
  g_array_append_vals (self->y, y, n);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LENGTH]);
  g_signal_emit (self, signals[CHANGED], 0);
}

void
graft_series_append (GraftSeries *self, double x, double y)
{
  graft_series_append_many (self, &x, &y, 1);
}

void
graft_series_clear (GraftSeries *self)
{
  g_return_if_fail (GRAFT_IS_SERIES (self));
  if (self->x->len == 0)
    return;
  g_array_set_size (self->x, 0);
  g_array_set_size (self->y, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LENGTH]);
  g_signal_emit (self, signals[CHANGED], 0);
}

guint
graft_series_get_length (GraftSeries *self)
{
  g_return_val_if_fail (GRAFT_IS_SERIES (self), 0);
  return self->x->len;
}

const double *
graft_series_get_x (GraftSeries *self)
{
  g_return_val_if_fail (GRAFT_IS_SERIES (self), NULL);
  return (const double *) self->x->data;
}

const double *
graft_series_get_y (GraftSeries *self)
{
  g_return_val_if_fail (GRAFT_IS_SERIES (self), NULL);
  return (const double *) self->y->data;
}
