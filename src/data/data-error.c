#include "data/data-error.h"

G_DEFINE_QUARK (graft-data-error-quark, graft_data_error)
