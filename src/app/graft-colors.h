/* graft-colors.h: colours for custom drawing, taken from libadwaita's named colours so
 * that light and dark styles both read well.
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

G_END_DECLS
