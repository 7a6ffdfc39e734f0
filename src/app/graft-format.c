/* graft-format.c: numbers in words.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-format.h"

#include <glib/gi18n.h>
#include <math.h>

char *
graft_format_percent (double fraction)
{
  double tenths = floor (fraction * 1000 + 1e-9) / 10;
  if (fraction >= 1.0)
    /* Translators: a whole percentage, such as "100 %" */
    return g_strdup_printf (_("%.0f %%"), 100.0);
  /* Translators: a percentage with one decimal, such as "93.8 %" */
  return g_strdup_printf (_("%.1f %%"), tenths);
}

char *
graft_format_count (double value)
{
  int unit = 0;
  const char *prefix;

  if (value < 999.5)
    return g_strdup_printf ("%.0f", value);
  while (value >= 999.5 && unit < 4)
    {
      value /= 1000;
      unit++;
    }
  /* Translators: SI prefixes after a count of parameters or FLOPs: "474 K" (thousand),
   * "2.2 M" (million), "1.1 G" (thousand million), "T" (million million). */
  prefix = unit == 1 ? C_("count", "K") : unit == 2 ? C_("count", "M") : unit == 3 ? C_("count", "G") : C_("count", "T");
  /* Translators: a count with its SI prefix, "2.2 M" (parameters), "474 K". */
  if (value < 100)
    return g_strdup_printf (C_("count", "%.1f %s"), value, prefix);
  return g_strdup_printf (C_("count", "%.0f %s"), value, prefix);
}

char *
graft_format_count_exact (guint64 value)
{
  /* The ' flag groups digits as the locale does ("34,309", "34 309"; none in C). */
  return g_strdup_printf ("%'" G_GUINT64_FORMAT, value);
}
