/* graft-cli: Graft's work without a display. */
#include <stdio.h>
#include <string.h>

#include "engine/parallel.h"

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: graft-cli COMMAND [OPTIONS]\n"
           "\n"
           "Commands:\n"
           "  version    print the version\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "version") == 0)
    {
      printf ("graft-cli %s (%d threads)\n", GRAFT_VERSION, graft_get_num_threads ());
      return 0;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  fprintf (stderr, "graft-cli: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return 2;
}
