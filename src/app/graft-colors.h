/* graft-colors.h: colours for custom drawing, taken from libadwaita's named colours so
 * that light and dark styles both read well, and the two Cairo helpers every custom
 * widget draws with.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The style's named colour (e.g. "accent_bg_color"), or fallback (a CSS colour) when the
 * style does not define it. */
GdkRGBA graft_color_named (GtkStyleContext *context, const char *name, const char *fallback);
/* a blended towards b by t (0..1), alpha included. */
GdkRGBA graft_color_mix (const GdkRGBA *a, const GdkRGBA *b, float t);
/* color, its alpha multiplied by alpha, as cr's source. */
void graft_color_set_source (cairo_t *cr, const GdkRGBA *color, double alpha);
/* A rounded rectangle as a new sub-path of cr: the radius is at most half the shorter
 * side, and a radius of half a pixel or less gives a plain rectangle. */
void graft_rounded_rectangle (cairo_t *cr, double x, double y, double w, double h, double r);

G_END_DECLS
