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

G_END_DECLS
