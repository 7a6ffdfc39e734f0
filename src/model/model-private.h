/* model-private.h: helpers shared inside the model layer (not installed, not for the app). */
#pragma once

#include "model/model.h"

G_BEGIN_DECLS

/* An empty model: no graph yet, input/output/logits -1 and an empty metadata table
 * (key -> value, both owned). Free with graft_model_free. */
GraftModel *graft_model_new (void);

G_END_DECLS
