/* graft-colors.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-colors.h"

GdkRGBA
graft_color_named (GtkStyleContext *context, const char *name, const char *fallback)
{
  GdkRGBA color;

  /* GtkStyleContext is the only way to named colours in GTK 4.8. */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  if (!gtk_style_context_lookup_color (context, name, &color))
    gdk_rgba_parse (&color, fallback);
  G_GNUC_END_IGNORE_DEPRECATIONS
  return color;
}

GdkRGBA
graft_color_mix (const GdkRGBA *a, const GdkRGBA *b, float t)
{
  return (GdkRGBA) { a->red + (b->red - a->red) * t, a->green + (b->green - a->green) * t,
                     a->blue + (b->blue - a->blue) * t, a->alpha + (b->alpha - a->alpha) * t };
}
