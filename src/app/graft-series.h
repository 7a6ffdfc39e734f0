/* graft-series.h: a named series of (x, y) points that grows while a run trains.
 *
 * Plots listen to "changed" and recompute their cached, normalised and decimated
 * paths outside the draw call.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define GRAFT_TYPE_SERIES (graft_series_get_type ())
G_DECLARE_FINAL_TYPE (GraftSeries, graft_series, GRAFT, SERIES, GObject)

GraftSeries *graft_series_new (const char *name, const char *label);

const char *graft_series_get_name (GraftSeries *self);
/* The label a person reads ("Validation loss"), translated. */
const char *graft_series_get_label (GraftSeries *self);

/* Appends points and emits ::changed once. NaN y values are kept (plots skip them). */
void graft_series_append (GraftSeries *self, double x, double y);
void graft_series_append_many (GraftSeries *self, const double *x, const double *y, guint n);
void graft_series_clear (GraftSeries *self);

guint graft_series_get_length (GraftSeries *self);
const double *graft_series_get_x (GraftSeries *self);
const double *graft_series_get_y (GraftSeries *self);

G_END_DECLS
