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
