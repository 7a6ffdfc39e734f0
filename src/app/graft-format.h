/* graft-format.h: numbers in words, the same way on every page.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A share as a percentage with one decimal, "93.8 %", rounded down so that it never
 * reads "100 %" unless it is all. */
char *graft_format_percent (double fraction);

/* A count for people, the same on every page: "928", "8.8 K", "54.3 K", "474 K",
 * "2.2 M", "1.1 G", with the locale's decimal mark and translated prefixes. Parameter
 * counts are shown this way wherever they are shown; the exact figure goes in a tooltip. */
char *graft_format_count (double value);
/* The exact count with the locale's digit grouping, for tooltips: "34,309". */
char *graft_format_count_exact (guint64 value);

G_END_DECLS
