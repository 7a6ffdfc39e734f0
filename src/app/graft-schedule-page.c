/* graft-schedule-page.c: the Schedule page.
 *
 * Controls write one field of the session's spec each and emit ::spec-changed; the
 * page follows ::spec-changed (its own and everyone else's) by reading every field back
 * into the controls with `syncing` set, so that the handlers that fire then do not
 * write anything back. Text entries (learning rate, weight decay) keep what the person
 * is typing while it means the value already in the spec, and keep an invalid text (with
 * the error shown) without touching the spec.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-schedule-page.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

typedef enum {
  FIELD_INT,
  FIELD_FLOAT,
  FIELD_PERCENT,          /* a float fraction shown as a percentage */
  FIELD_SEED,             /* guint64 */
} FieldKind;

/* Spin buttons that edit one field each. */
typedef enum {
  SPIN_EPOCHS,
  SPIN_BATCH,
  SPIN_SEED,
  SPIN_WARMUP,
  SPIN_STEP,
  SPIN_GAMMA,
  SPIN_FINAL,
  SPIN_PCT,
  SPIN_DIV,
  SPIN_FRACTION,
  SPIN_MOMENTUM,
  SPIN_SMOOTHING,
  SPIN_PATIENCE,
  SPIN_CROP,
  SPIN_ROTATION,
  SPIN_JITTER,
  SPIN_VIEWS,
  N_SPINS,
} Spin;

static const struct {
  const char *name;
  gsize offset;
  FieldKind kind;
} spin_fields[N_SPINS] = {
  [SPIN_EPOCHS] = { "epochs_spin", G_STRUCT_OFFSET (GraftSessionSpec, epochs), FIELD_INT },
  [SPIN_BATCH] = { "batch_spin", G_STRUCT_OFFSET (GraftSessionSpec, batch_size), FIELD_INT },
  [SPIN_SEED] = { "seed_spin", G_STRUCT_OFFSET (GraftSessionSpec, seed), FIELD_SEED },
  [SPIN_WARMUP] = { "warmup_spin", G_STRUCT_OFFSET (GraftSessionSpec, schedule.warmup_epochs), FIELD_FLOAT },
  [SPIN_STEP] = { "step_spin", G_STRUCT_OFFSET (GraftSessionSpec, schedule.step_epochs), FIELD_INT },
  [SPIN_GAMMA] = { "gamma_spin", G_STRUCT_OFFSET (GraftSessionSpec, schedule.gamma), FIELD_FLOAT },
  [SPIN_FINAL] = { "final_spin", G_STRUCT_OFFSET (GraftSessionSpec, schedule.final_fraction), FIELD_PERCENT },
  [SPIN_PCT] = { "pct_spin", G_STRUCT_OFFSET (GraftSessionSpec, schedule.pct_start), FIELD_PERCENT },
  [SPIN_DIV] = { "div_spin", G_STRUCT_OFFSET (GraftSessionSpec, schedule.div_factor), FIELD_FLOAT },
  [SPIN_FRACTION] = { "fraction_spin", G_STRUCT_OFFSET (GraftSessionSpec, backbone_lr_fraction), FIELD_FLOAT },
  [SPIN_MOMENTUM] = { "momentum_spin", G_STRUCT_OFFSET (GraftSessionSpec, optimizer.momentum), FIELD_FLOAT },
  [SPIN_SMOOTHING] = { "smoothing_spin", G_STRUCT_OFFSET (GraftSessionSpec, label_smoothing), FIELD_FLOAT },
  [SPIN_PATIENCE] = { "patience_spin", G_STRUCT_OFFSET (GraftSessionSpec, early_stopping_patience), FIELD_INT },
  /* The augmentation strengths: written only while their switch is on (off is 0). */
  [SPIN_CROP] = { "crop_spin", G_STRUCT_OFFSET (GraftSessionSpec, augmentation.crop_scale_min), FIELD_PERCENT },
  [SPIN_ROTATION] = { "rotation_spin", G_STRUCT_OFFSET (GraftSessionSpec, augmentation.rotation_degrees), FIELD_FLOAT },
  [SPIN_JITTER] = { "jitter_spin", G_STRUCT_OFFSET (GraftSessionSpec, augmentation.brightness), FIELD_FLOAT },
  [SPIN_VIEWS] = { "views_spin", G_STRUCT_OFFSET (GraftSessionSpec, cached_views), FIELD_INT },
};

struct _GraftSchedulePage
{
  AdwBin parent_instance;

  GraftSession *session;
  gulong spec_changed_id;
  gulong model_changed_id;
  gboolean syncing;
  char *error;            /* what the error area shows; NULL: nothing */
  double lr_shown;        /* the values the entries were last synced to (NAN: never) */
  double decay_shown;

  /* Template children. */
  GraftScheduleTimeline *timeline;
  GtkLabel *stage_label;
  GtkWidget *split_button;
  GtkWidget *remove_button;
  GtkRevealer *error_revealer;
  GtkLabel *error_label;
  GtkSpinButton *spins[N_SPINS];
  AdwComboRow *kind_row;
  AdwActionRow *step_row;
  AdwActionRow *gamma_row;
  AdwActionRow *final_row;
  AdwActionRow *pct_row;
  AdwActionRow *div_row;
  GtkSwitch *restart_switch;
  AdwActionRow *precision_row;
  GtkSwitch *precision_switch;
  AdwEntryRow *lr_row;
  GtkScale *factor_scale;
  GtkLabel *factor_label;
  AdwComboRow *optimizer_row;
  AdwActionRow *momentum_row;
  AdwActionRow *nesterov_row;
  GtkSwitch *nesterov_switch;
  AdwEntryRow *decay_row;
  GtkCheckButton *bn_checks[3];  /* by GraftBatchNormPolicy */
  AdwExpanderRow *augmentation_row;
  GtkSwitch *flip_switch;
  GtkSwitch *crop_switch;
  GtkSwitch *rotation_switch;
  GtkSwitch *jitter_switch;
  GtkWidget *views_row;
  GtkWidget *cache_note;
  AdwExpanderRow *stage_rates_row;
  AdwExpanderRow *block_rates_row;

  /* The rows made for the stages and the blocks (rebuilt when their number or the
   * model changes): an entry a stage, a spin button a block. */
  GPtrArray *stage_rows;
  GPtrArray *stage_entries;
  GPtrArray *block_rows;
  GPtrArray *block_spins;
  GraftModel *rates_model;
};

G_DEFINE_FINAL_TYPE (GraftSchedulePage, graft_schedule_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_SESSION, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void sync_from_spec (GraftSchedulePage *self);

/* ------------------------------------------------------------------------ */
/* Numbers in text                                                           */

/* "1e-3", "2.5e-4", "0.5": C locale, so that it parses back anywhere. */
static char *
format_number (double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  int exponent;
  double mantissa;

  if (value == 0 || !isfinite (value))
    return g_strdup (value == 0 ? "0" : "");
  if (fabs (value) >= 0.1 && fabs (value) < 1e4)
    return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%.4g", value));
  exponent = (int) floor (log10 (fabs (value)));
  mantissa = value / pow (10, exponent);
  if (fabs (mantissa) >= 9.9995)
    {
      mantissa /= 10;
      exponent++;
    }
  g_ascii_formatd (buffer, sizeof buffer, "%.4g", mantissa);
  return g_strdup_printf ("%se%d", buffer, exponent);
}

/* A number as people write it: "1e-3", "0.001", "0,001", "1E-3". */
static gboolean
parse_number (const char *text, double *value)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  char *end = NULL;

  g_strdelimit (copy, ",", '.');
  if (*copy == '\0')
    return FALSE;
  *value = g_ascii_strtod (copy, &end);
  return end != NULL && *end == '\0' && isfinite (*value);
}

static gboolean
nearly_equal (double a, double b)
{
  return fabs (a - b) <= 1e-6 * MAX (fabs (a), fabs (b));
}

/* ------------------------------------------------------------------------ */
/* Reading and writing                                                       */

static GraftSessionSpec *
spec_for_edit (GraftSchedulePage *self)
{
  if (self->syncing || self->session == NULL)
    return NULL;
  return graft_session_get_spec (self->session);
}

static void
commit (GraftSchedulePage *self)
{
  graft_session_spec_changed (self->session);
}

static double
field_get (const GraftSessionSpec *spec, Spin spin)
{
  const guint8 *base = (const guint8 *) spec + spin_fields[spin].offset;
  switch (spin_fields[spin].kind)
    {
    case FIELD_INT:
      return *(const int *) base;
    case FIELD_FLOAT:
      return *(const float *) base;
    case FIELD_PERCENT:
      return 100.0 * *(const float *) base;
    case FIELD_SEED:
    default:
      return (double) *(const guint64 *) base;
    }
}

static void
field_set (GraftSessionSpec *spec, Spin spin, double value)
{
  guint8 *base = (guint8 *) spec + spin_fields[spin].offset;
  switch (spin_fields[spin].kind)
    {
    case FIELD_INT:
      *(int *) base = (int) lround (value);
      break;
    case FIELD_FLOAT:
      *(float *) base = (float) value;
      break;
    case FIELD_PERCENT:
      *(float *) base = (float) (value / 100.0);
      break;
    case FIELD_SEED:
    default:
      *(guint64 *) base = (guint64) llround (MAX (value, 0));
      break;
    }
}

static void
set_jitter (GraftSessionSpec *spec, float strength)
{
  spec->augmentation.brightness = spec->augmentation.contrast = spec->augmentation.saturation = strength;
}

static void
on_spin_changed (GtkSpinButton *button, GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  Spin spin = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "graft-spin"));
  double value = gtk_spin_button_get_value (button);

  if (spec == NULL)
    return;
  switch (spin)
    {
    case SPIN_CROP:
      if (!gtk_switch_get_active (self->crop_switch))
        return;
      break;
    case SPIN_ROTATION:
      if (!gtk_switch_get_active (self->rotation_switch))
        return;
      break;
    case SPIN_JITTER:
      if (!gtk_switch_get_active (self->jitter_switch))
        return;
      set_jitter (spec, (float) value);
      commit (self);
      return;
    case SPIN_MOMENTUM:
      /* Nesterov needs momentum. */
      if (value <= 0)
        spec->optimizer.nesterov = false;
      break;
    default:
      break;
    }
  field_set (spec, spin, value);
  commit (self);
}

static void
on_switch_changed (GraftSchedulePage *self, GParamSpec *pspec, GtkSwitch *button)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  gboolean active = gtk_switch_get_active (button);

  if (spec == NULL)
    return;
  if (button == self->restart_switch)
    spec->schedule.restart_each_stage = active;
  else if (button == self->precision_switch)
    spec->precision = active ? GRAFT_PLAN_PRECISION_BF16 : GRAFT_PLAN_PRECISION_FP32;
  else if (button == self->nesterov_switch)
    spec->optimizer.nesterov = active;
  else if (button == self->flip_switch)
    spec->augmentation.flip = active;
  else if (button == self->crop_switch)
    field_set (spec, SPIN_CROP, active ? gtk_spin_button_get_value (self->spins[SPIN_CROP]) : 0);
  else if (button == self->rotation_switch)
    field_set (spec, SPIN_ROTATION, active ? gtk_spin_button_get_value (self->spins[SPIN_ROTATION]) : 0);
  else if (button == self->jitter_switch)
    set_jitter (spec, active ? (float) gtk_spin_button_get_value (self->spins[SPIN_JITTER]) : 0.0f);
  else
    return;
  commit (self);
}

static void
on_kind_changed (GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  guint selected = adw_combo_row_get_selected (self->kind_row);

  if (spec == NULL || selected > GRAFT_SCHEDULE_SLANTED_TRIANGULAR)
    return;
  spec->schedule.kind = (GraftScheduleKind) selected;
  commit (self);
}

static void
on_optimizer_changed (GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  guint selected = adw_combo_row_get_selected (self->optimizer_row);

  if (spec == NULL || selected > GRAFT_OPTIMIZER_ADAMW)
    return;
  spec->optimizer.kind = (graft_optimizer_kind) selected;
  /* SGD is offered as SGD with momentum. */
  if (spec->optimizer.kind == GRAFT_OPTIMIZER_SGD && spec->optimizer.momentum <= 0)
    spec->optimizer.momentum = 0.9f;
  commit (self);
}

static void
on_batchnorm_toggled (GraftSchedulePage *self, GtkCheckButton *button)
{
  GraftSessionSpec *spec = spec_for_edit (self);

  if (spec == NULL || !gtk_check_button_get_active (button))
    return;
  for (int policy = 0; policy < 3; policy++)
    if (self->bn_checks[policy] == button && spec->batchnorm_policy != (GraftBatchNormPolicy) policy)
      {
        spec->batchnorm_policy = (GraftBatchNormPolicy) policy;
        commit (self);
      }
}

/* The factor's value, in its own label beside the scale. */
static void
show_factor (GraftSchedulePage *self)
{
  g_autofree char *text = g_strdup_printf ("%.2f", gtk_range_get_value (GTK_RANGE (self->factor_scale)));

  gtk_label_set_label (self->factor_label, text);
}

static void
on_factor_changed (GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);

  show_factor (self);
  if (spec == NULL)
    return;
  spec->discriminative_factor = (float) gtk_range_get_value (GTK_RANGE (self->factor_scale));
  commit (self);
}

static void
on_augmentation_enabled (GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  gboolean enabled = adw_expander_row_get_enable_expansion (self->augmentation_row);
  const GraftAugmentation *a;

  if (spec == NULL)
    return;
  a = &spec->augmentation;
  spec->augmentation.enabled = enabled;
  /* Switched on with nothing to do: torchvision's recipe. */
  if (enabled && !a->flip && a->crop_scale_min <= 0 && a->rotation_degrees <= 0 && a->brightness <= 0
      && a->contrast <= 0 && a->saturation <= 0)
    graft_augmentation_init_default (&spec->augmentation);
  commit (self);
}

static void
on_lr_changed (GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  double value;

  if (spec == NULL)
    return;
  if (parse_number (gtk_editable_get_text (GTK_EDITABLE (self->lr_row)), &value) && value > 0 && value < 1e3)
    {
      if (!nearly_equal (value, spec->optimizer.learning_rate))
        {
          spec->optimizer.learning_rate = (float) value;
          commit (self);
          return;
        }
    }
  sync_from_spec (self);
}

static void
on_decay_changed (GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  double value;

  if (spec == NULL)
    return;
  if (parse_number (gtk_editable_get_text (GTK_EDITABLE (self->decay_row)), &value) && value >= 0 && value < 1e3)
    {
      if (!nearly_equal (value, spec->optimizer.weight_decay))
        {
          spec->optimizer.weight_decay = (float) value;
          commit (self);
          return;
        }
    }
  sync_from_spec (self);
}


/* ------------------------------------------------------------------------ */
/* Learning rates of each stage and block                                    */

/* A stage's own learning rate: empty is the base rate (0 in the spec). */
static void
on_stage_rate_changed (GtkEditable *entry, GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  int stage = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (entry), "graft-stage"));
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  double value = 0;
  gboolean valid;

  if (spec == NULL || stage >= spec->n_stages)
    return;
  valid = text[0] == '\0' || (parse_number (text, &value) && value > 0 && value < 1e3);
  if (valid)
    gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
  if (valid && !nearly_equal (value, spec->stages[stage].lr))
    {
      spec->stages[stage].lr = (float) value;
      commit (self);
    }
}

/* A block's own factor; the reset button gives the preset's back. */
static void
on_block_factor_changed (GtkSpinButton *spin, GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  int block = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (spin), "graft-block"));
  const GraftBlock *b = self->session != NULL ? graft_session_get_block (self->session, block) : NULL;
  double value = gtk_spin_button_get_value (spin);

  if (spec == NULL || b == NULL)
    return;
  if (nearly_equal (value, graft_session_spec_block_lr_factor (spec, 0, block, b->name,
                                                               graft_session_get_n_blocks (self->session))))
    return;
  graft_session_spec_set_block_lr_factor (spec, b->name, (float) value);
  commit (self);
}

/* Factors span decades (fastai's and ULMFiT's lowest block learns 100 times slower than the head):
 * the spin buttons show and read them as "3.9e-3", as the learning-rate entries do. */
static gboolean
on_factor_output (GtkSpinButton *spin, gpointer data)
{
  g_autofree char *text = format_number (gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)));
  if (g_strcmp0 (text, gtk_editable_get_text (GTK_EDITABLE (spin))) != 0)
    gtk_editable_set_text (GTK_EDITABLE (spin), text);
  return TRUE;
}

static int
on_factor_input (GtkSpinButton *spin, double *value, gpointer data)
{
  return parse_number (gtk_editable_get_text (GTK_EDITABLE (spin)), value) && *value > 0 ? TRUE : GTK_INPUT_ERROR;
}

static void
on_block_factor_reset (GtkButton *button, GraftSchedulePage *self)
{
  GraftSessionSpec *spec = spec_for_edit (self);
  int block = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "graft-block"));
  const GraftBlock *b = self->session != NULL ? graft_session_get_block (self->session, block) : NULL;

  if (spec == NULL || b == NULL)
    return;
  graft_session_spec_set_block_lr_factor (spec, b->name, 0);
  commit (self);
}

static void
clear_rows (AdwExpanderRow *expander, GPtrArray *rows)
{
  for (guint i = 0; i < rows->len; i++)
    adw_expander_row_remove (expander, g_ptr_array_index (rows, i));
  g_ptr_array_set_size (rows, 0);
}

/* Makes the rows for the spec's stages and the model's blocks when their number or the
 * model changed; otherwise the rows stay (and keep the focus). */
static void
rebuild_rates (GraftSchedulePage *self, const GraftSessionSpec *spec)
{
  GraftModel *model = graft_session_get_model (self->session);
  int n_blocks = model != NULL ? graft_session_get_n_blocks (self->session) : 0;

  if ((int) self->stage_rows->len != spec->n_stages)
    {
      clear_rows (self->stage_rates_row, self->stage_rows);
      g_ptr_array_set_size (self->stage_entries, 0);
      for (int s = 0; s < spec->n_stages; s++)
        {
          GtkWidget *row = adw_action_row_new ();
          GtkWidget *entry = gtk_entry_new ();
          /* Translators: a row of the learning rate of each stage. */
          g_autofree char *title = g_strdup_printf (_("Stage %d"), s + 1);
          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
          gtk_widget_set_valign (entry, GTK_ALIGN_CENTER);
          gtk_editable_set_width_chars (GTK_EDITABLE (entry), 8);
          gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("base"));
          gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
          g_object_set_data (G_OBJECT (entry), "graft-stage", GINT_TO_POINTER (s));
          g_signal_connect (entry, "changed", G_CALLBACK (on_stage_rate_changed), self);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), entry);
          adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), entry);
          adw_expander_row_add_row (self->stage_rates_row, row);
          g_ptr_array_add (self->stage_rows, row);
          g_ptr_array_add (self->stage_entries, entry);
        }
    }
  if (self->rates_model != model || (int) self->block_rows->len != n_blocks)
    {
      self->rates_model = model;
      clear_rows (self->block_rates_row, self->block_rows);
      g_ptr_array_set_size (self->block_spins, 0);
      for (int b = n_blocks - 1; b >= 0; b--)
        {
          const GraftBlock *block = graft_session_get_block (self->session, b);
          GtkWidget *row = adw_action_row_new ();
          GtkAdjustment *adjustment = gtk_adjustment_new (1, 1e-12, 100, 0.01, 0.1, 0);
          GtkWidget *spin = gtk_spin_button_new (adjustment, 0.01, 4);
          GtkWidget *reset = gtk_button_new_from_icon_name ("edit-undo-symbolic");
          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), block->name);
          gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
          gtk_editable_set_width_chars (GTK_EDITABLE (spin), 8);
          g_signal_connect (spin, "output", G_CALLBACK (on_factor_output), NULL);
          g_signal_connect (spin, "input", G_CALLBACK (on_factor_input), NULL);
          gtk_accessible_update_property (GTK_ACCESSIBLE (spin), GTK_ACCESSIBLE_PROPERTY_LABEL, block->name, -1);
          g_object_set_data (G_OBJECT (spin), "graft-block", GINT_TO_POINTER (b));
          g_object_set_data (G_OBJECT (reset), "graft-block", GINT_TO_POINTER (b));
          g_object_set_data (G_OBJECT (row), "graft-reset", reset);
          g_signal_connect (spin, "value-changed", G_CALLBACK (on_block_factor_changed), self);
          gtk_widget_set_valign (reset, GTK_ALIGN_CENTER);
          gtk_widget_add_css_class (reset, "flat");
          gtk_widget_set_tooltip_text (reset, _("Use the factor of the fraction and the discriminative factor"));
          g_signal_connect (reset, "clicked", G_CALLBACK (on_block_factor_reset), self);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), reset);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), spin);
          adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), spin);
          adw_expander_row_add_row (self->block_rates_row, row);
          g_ptr_array_add (self->block_rows, row);
          g_ptr_array_add (self->block_spins, spin);
        }
    }
}

/* Rows from the spec (called while syncing). */
static void
sync_rates (GraftSchedulePage *self, const GraftSessionSpec *spec)
{
  int n_blocks;

  /* Counted after the rebuild: another project's model has other blocks (counted before,
   * the loop below read spins past the end of the array and crashed). */
  rebuild_rates (self, spec);
  n_blocks = (int) self->block_spins->len;
  for (int s = 0; s < spec->n_stages && s < (int) self->stage_entries->len; s++)
    {
      GtkEditable *entry = g_ptr_array_index (self->stage_entries, s);
      const char *text = gtk_editable_get_text (entry);
      double shown;
      int end = s + 1 < spec->n_stages ? spec->stages[s + 1].epoch : spec->epochs;
      /* Translators: the epochs of a stage, "epochs 1 to 4" (1-based, inclusive). */
      g_autofree char *subtitle = end > spec->stages[s].epoch + 1
                                      ? g_strdup_printf (_("Epochs %d to %d"), spec->stages[s].epoch + 1, end)
                                      /* Translators: the one epoch of a stage. */
                                      : g_strdup_printf (_("Epoch %d"), spec->stages[s].epoch + 1);
      adw_action_row_set_subtitle (g_ptr_array_index (self->stage_rows, s), subtitle);
      /* Keep what the person is typing while it means the spec's value. */
      if (spec->stages[s].lr > 0 ? !(parse_number (text, &shown) && nearly_equal (shown, spec->stages[s].lr))
                                 : text[0] != '\0')
        {
          g_autofree char *value = spec->stages[s].lr > 0 ? format_number (spec->stages[s].lr) : g_strdup ("");
          gtk_editable_set_text (entry, value);
        }
    }
  for (int i = 0; i < n_blocks; i++)
    {
      GtkSpinButton *spin = g_ptr_array_index (self->block_spins, i);
      int b = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (spin), "graft-block"));
      const GraftBlock *block = graft_session_get_block (self->session, b);
      gboolean own = block != NULL && g_hash_table_contains (spec->block_lr_factors, block->name);
      GtkWidget *row = g_ptr_array_index (self->block_rows, i);
      if (block == NULL)
        continue;
      gtk_spin_button_set_value (spin, graft_session_spec_block_lr_factor (spec, 0, b, block->name,
                                                                          graft_session_get_n_blocks (self->session)));
      gtk_widget_set_visible (g_object_get_data (G_OBJECT (row), "graft-reset"), own);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), own ? _("Its own factor") : "");
    }
}

/* ------------------------------------------------------------------------ */
/* The stage buttons                                                         */

static void
update_stage_controls (GraftSchedulePage *self)
{
  int stage = graft_schedule_timeline_get_selected_stage (self->timeline);
  GraftSessionSpec *spec = self->session != NULL ? graft_session_get_spec (self->session) : NULL;
  g_autofree char *text = graft_schedule_timeline_describe_stage (self->timeline, stage);
  gboolean can_split = FALSE;

  if (spec != NULL && stage >= 0 && stage < spec->n_stages && text != NULL)
    {
      int start = spec->stages[stage].epoch;
      int end = stage + 1 < spec->n_stages ? spec->stages[stage + 1].epoch : spec->epochs;
      can_split = end - start >= 2 && spec->n_stages < GRAFT_MAX_STAGES;
      if (spec->stages[stage].lr > 0)
        {
          g_autofree char *lr = format_number (spec->stages[stage].lr);
          g_autofree char *with_lr = NULL;
          /* Translators: a stage's sentence, then its own learning rate ("5e-4"). */
          with_lr = g_strdup_printf (_("%s Its base learning rate is %s."), text, lr);
          g_free (text);
          text = g_steal_pointer (&with_lr);
        }
    }
  gtk_label_set_text (self->stage_label, text != NULL ? text : _("No model is loaded."));
  gtk_widget_set_sensitive (self->split_button, can_split);
  gtk_widget_set_sensitive (self->remove_button, stage >= 1 && text != NULL);
}

static void
on_selected_stage_changed (GraftSchedulePage *self)
{
  update_stage_controls (self);
}

static void
on_split_clicked (GraftSchedulePage *self)
{
  int stage = graft_schedule_timeline_get_selected_stage (self->timeline);
  GraftSessionSpec *spec = self->session != NULL ? graft_session_get_spec (self->session) : NULL;
  int start, end;

  if (spec == NULL || stage < 0 || stage >= spec->n_stages)
    return;
  start = spec->stages[stage].epoch;
  end = stage + 1 < spec->n_stages ? spec->stages[stage + 1].epoch : spec->epochs;
  gtk_widget_activate_action (GTK_WIDGET (self->timeline), "timeline.add-stage", "i", start + MAX (1, (end - start) / 2));
}

static void
on_remove_clicked (GraftSchedulePage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self->timeline), "timeline.remove-stage", "i",
                              graft_schedule_timeline_get_selected_stage (self->timeline));
}

/* ------------------------------------------------------------------------ */
/* From the spec to the controls                                             */

static void
set_entry_error (AdwEntryRow *row, gboolean error)
{
  if (error)
    gtk_widget_add_css_class (GTK_WIDGET (row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
}

/* Shows value in the entry unless its text already means it, or the person is typing
 * something invalid while the spec keeps the value last shown (*last); returns whether
 * the text is valid. */
static gboolean
sync_entry (AdwEntryRow *row, double value, double *last, gboolean zero_allowed)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));
  double shown;
  gboolean valid = parse_number (text, &shown) && (zero_allowed ? shown >= 0 : shown > 0) && shown < 1e3;

  if (valid && nearly_equal (shown, value))
    {
      *last = value;
      set_entry_error (row, FALSE);
      return TRUE;
    }
  if (valid || !nearly_equal (*last, value))
    {
      g_autofree char *formatted = format_number (value);
      gtk_editable_set_text (GTK_EDITABLE (row), formatted);
      *last = value;
      set_entry_error (row, FALSE);
      return TRUE;
    }
  set_entry_error (row, TRUE);
  return FALSE;
}

static void
set_error (GraftSchedulePage *self, const char *message)
{
  g_free (self->error);
  self->error = NULL;
  if (message != NULL)
    {
      /* The library's messages start in lower case, to follow a colon. */
      gunichar first = g_utf8_get_char (message);
      char upper[8] = { 0 };
      g_unichar_to_utf8 (g_unichar_toupper (first), upper);
      self->error = g_strconcat (upper, g_utf8_next_char (message), NULL);
      gtk_label_set_text (self->error_label, self->error);
    }
  gtk_revealer_set_reveal_child (self->error_revealer, self->error != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->error_revealer), self->error != NULL);
}

static void
sync_from_spec (GraftSchedulePage *self)
{
  GraftSessionSpec *spec;
  const GraftAugmentation *a;
  gboolean lr_valid, decay_valid;
  g_autoptr (GError) error = NULL;
  int n_blocks;

  if (self->session == NULL)
    return;
  spec = graft_session_get_spec (self->session);
  a = &spec->augmentation;
  self->syncing = TRUE;

  for (Spin spin = 0; spin < N_SPINS; spin++)
    {
      double value = field_get (spec, spin);
      if (spin == SPIN_JITTER)
        value = MAX (a->brightness, MAX (a->contrast, a->saturation));
      /* An augmentation that is off keeps the strength it had, for when it comes back. */
      if ((spin == SPIN_CROP || spin == SPIN_ROTATION || spin == SPIN_JITTER) && value <= 0)
        continue;
      gtk_spin_button_set_value (self->spins[spin], value);
    }

  adw_combo_row_set_selected (self->kind_row, spec->schedule.kind);
  gtk_widget_set_visible (GTK_WIDGET (self->step_row), spec->schedule.kind == GRAFT_SCHEDULE_STEP);
  gtk_widget_set_visible (GTK_WIDGET (self->gamma_row), spec->schedule.kind == GRAFT_SCHEDULE_STEP);
  gtk_widget_set_visible (GTK_WIDGET (self->final_row), spec->schedule.kind == GRAFT_SCHEDULE_COSINE);
  gtk_widget_set_visible (GTK_WIDGET (self->pct_row), spec->schedule.kind == GRAFT_SCHEDULE_ONE_CYCLE
                                                       || spec->schedule.kind == GRAFT_SCHEDULE_SLANTED_TRIANGULAR);
  gtk_widget_set_visible (GTK_WIDGET (self->div_row), spec->schedule.kind == GRAFT_SCHEDULE_ONE_CYCLE
                                                       || spec->schedule.kind == GRAFT_SCHEDULE_SLANTED_TRIANGULAR);
  adw_action_row_set_subtitle (self->div_row, spec->schedule.kind == GRAFT_SCHEDULE_ONE_CYCLE
                                                ? _("The cycle starts at the learning rate divided by this")
                                                : _("Ratio of the highest learning rate to the lowest"));
  gtk_switch_set_active (self->restart_switch, spec->schedule.restart_each_stage);
  gtk_switch_set_active (self->precision_switch, spec->precision == GRAFT_PLAN_PRECISION_BF16);
  /* Without AVX512_BF16 or AMX bf16 cannot run: the switch stays off, and stays
   * usable only to turn off a bf16 that a spec made elsewhere asks for. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->precision_row),
                            graft_plan_bf16_supported () || spec->precision == GRAFT_PLAN_PRECISION_BF16);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->precision_row),
                               graft_plan_bf16_supported ()
                                 ? NULL
                                 : _("This CPU has neither AVX512_BF16 nor AMX, which bf16 needs: training runs in "
                                     "32-bit floats"));

  lr_valid = sync_entry (self->lr_row, spec->optimizer.learning_rate, &self->lr_shown, FALSE);
  gtk_range_set_value (GTK_RANGE (self->factor_scale), spec->discriminative_factor);

  adw_combo_row_set_selected (self->optimizer_row, spec->optimizer.kind);
  gtk_widget_set_visible (GTK_WIDGET (self->momentum_row), spec->optimizer.kind == GRAFT_OPTIMIZER_SGD);
  gtk_widget_set_visible (GTK_WIDGET (self->nesterov_row), spec->optimizer.kind == GRAFT_OPTIMIZER_SGD);
  gtk_widget_set_sensitive (GTK_WIDGET (self->nesterov_row), spec->optimizer.momentum > 0);
  gtk_switch_set_active (self->nesterov_switch, spec->optimizer.nesterov);
  decay_valid = sync_entry (self->decay_row, spec->optimizer.weight_decay, &self->decay_shown, TRUE);

  if (spec->batchnorm_policy >= 0 && spec->batchnorm_policy < 3)
    gtk_check_button_set_active (self->bn_checks[spec->batchnorm_policy], TRUE);

  adw_expander_row_set_enable_expansion (self->augmentation_row, a->enabled);
  gtk_widget_set_visible (self->cache_note, a->enabled);
  gtk_switch_set_active (self->flip_switch, a->flip);
  gtk_switch_set_active (self->crop_switch, a->crop_scale_min > 0 && a->crop_scale_min < 1);
  gtk_switch_set_active (self->rotation_switch, a->rotation_degrees > 0);
  gtk_switch_set_active (self->jitter_switch, a->brightness > 0 || a->contrast > 0 || a->saturation > 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->spins[SPIN_CROP]), gtk_switch_get_active (self->crop_switch));
  gtk_widget_set_sensitive (GTK_WIDGET (self->spins[SPIN_ROTATION]), gtk_switch_get_active (self->rotation_switch));
  gtk_widget_set_sensitive (GTK_WIDGET (self->spins[SPIN_JITTER]), gtk_switch_get_active (self->jitter_switch));
  /* Cached views are augmented ones: without augmentation every epoch reads the same
   * image, and the trainer caches it once anyway. */
  gtk_widget_set_sensitive (self->views_row, a->enabled);
  sync_rates (self, spec);

  self->syncing = FALSE;

  /* The first problem, the entries' own first. */
  n_blocks = graft_session_get_n_blocks (self->session);
  if (n_blocks == 0)
    n_blocks = graft_session_spec_backbone_blocks (NULL);
  if (!lr_valid)
    set_error (self, _("The base learning rate must be a positive number, such as 1e-3 or 0.001."));
  else if (!decay_valid)
    set_error (self, _("The weight decay must be zero or a positive number, such as 1e-4."));
  else if (!graft_session_spec_validate (spec, n_blocks, &error))
    set_error (self, error->message);
  else
    set_error (self, NULL);
  update_stage_controls (self);
}

static void
on_spec_changed (GraftSchedulePage *self)
{
  sync_from_spec (self);
}

/* ------------------------------------------------------------------------ */
/* Object                                                                    */

GraftSession *
graft_schedule_page_get_session (GraftSchedulePage *self)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_PAGE (self), NULL);
  return self->session;
}

void
graft_schedule_page_set_session (GraftSchedulePage *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_SCHEDULE_PAGE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (self->session == session)
    return;
  if (self->session != NULL)
    {
      g_clear_signal_handler (&self->spec_changed_id, self->session);
      g_clear_signal_handler (&self->model_changed_id, self->session);
      g_clear_object (&self->session);
    }
  graft_schedule_timeline_set_session (self->timeline, session);
  if (session != NULL)
    {
      self->session = g_object_ref (session);
      self->spec_changed_id = g_signal_connect_swapped (session, "spec-changed", G_CALLBACK (on_spec_changed), self);
      self->model_changed_id = g_signal_connect_swapped (session, "model-changed", G_CALLBACK (on_spec_changed), self);
      sync_from_spec (self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GraftScheduleTimeline *
graft_schedule_page_get_timeline (GraftSchedulePage *self)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_PAGE (self), NULL);
  return self->timeline;
}

const char *
graft_schedule_page_get_error (GraftSchedulePage *self)
{
  g_return_val_if_fail (GRAFT_IS_SCHEDULE_PAGE (self), NULL);
  return self->error;
}

GtkWidget *
graft_schedule_page_new (void)
{
  return g_object_new (GRAFT_TYPE_SCHEDULE_PAGE, NULL);
}

static void
graft_schedule_page_dispose (GObject *object)
{
  GraftSchedulePage *self = GRAFT_SCHEDULE_PAGE (object);

  if (self->session != NULL)
    {
      g_clear_signal_handler (&self->spec_changed_id, self->session);
      g_clear_signal_handler (&self->model_changed_id, self->session);
      g_clear_object (&self->session);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_SCHEDULE_PAGE);
  G_OBJECT_CLASS (graft_schedule_page_parent_class)->dispose (object);
}

static void
graft_schedule_page_finalize (GObject *object)
{
  GraftSchedulePage *self = GRAFT_SCHEDULE_PAGE (object);

  g_free (self->error);
  g_ptr_array_unref (self->stage_rows);
  g_ptr_array_unref (self->stage_entries);
  g_ptr_array_unref (self->block_rows);
  g_ptr_array_unref (self->block_spins);
  G_OBJECT_CLASS (graft_schedule_page_parent_class)->finalize (object);
}

static void
graft_schedule_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftSchedulePage *self = GRAFT_SCHEDULE_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_schedule_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftSchedulePage *self = GRAFT_SCHEDULE_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_schedule_page_set_session (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_schedule_page_class_init (GraftSchedulePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = graft_schedule_page_dispose;
  object_class->finalize = graft_schedule_page_finalize;
  object_class->get_property = graft_schedule_page_get_property;
  object_class->set_property = graft_schedule_page_set_property;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (GRAFT_TYPE_SCHEDULE_TIMELINE);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-schedule-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, timeline);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, stage_label);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, split_button);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, remove_button);
  /* For tests: the button that opens the settings while their flap is folded. */
  gtk_widget_class_bind_template_child_full (widget_class, "settings_button", FALSE, 0);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, error_revealer);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, error_label);
  for (Spin spin = 0; spin < N_SPINS; spin++)
    gtk_widget_class_bind_template_child_full (widget_class, spin_fields[spin].name, FALSE,
                                               G_STRUCT_OFFSET (GraftSchedulePage, spins)
                                                 + spin * sizeof (GtkSpinButton *));
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, kind_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, step_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, gamma_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, final_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, pct_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, div_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, restart_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, precision_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, precision_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, lr_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, factor_scale);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, factor_label);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, optimizer_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, momentum_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, nesterov_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, nesterov_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, decay_row);
  gtk_widget_class_bind_template_child_full (widget_class, "bn_inference_check", FALSE,
                                             G_STRUCT_OFFSET (GraftSchedulePage, bn_checks)
                                               + GRAFT_BATCHNORM_FROZEN_INFERENCE * sizeof (GtkCheckButton *));
  gtk_widget_class_bind_template_child_full (widget_class, "bn_batch_check", FALSE,
                                             G_STRUCT_OFFSET (GraftSchedulePage, bn_checks)
                                               + GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS * sizeof (GtkCheckButton *));
  gtk_widget_class_bind_template_child_full (widget_class, "bn_recalibrate_check", FALSE,
                                             G_STRUCT_OFFSET (GraftSchedulePage, bn_checks)
                                               + GRAFT_BATCHNORM_RECALIBRATE * sizeof (GtkCheckButton *));
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, augmentation_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, flip_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, crop_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, rotation_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, jitter_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, views_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, cache_note);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, stage_rates_row);
  gtk_widget_class_bind_template_child (widget_class, GraftSchedulePage, block_rates_row);
  gtk_widget_class_bind_template_callback (widget_class, on_switch_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_kind_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_optimizer_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_batchnorm_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_factor_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_augmentation_enabled);
  gtk_widget_class_bind_template_callback (widget_class, on_lr_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_decay_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_selected_stage_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_split_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_remove_clicked);

  gtk_widget_class_set_css_name (widget_class, "schedulepage");
}

static void
graft_schedule_page_init (GraftSchedulePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->lr_shown = self->decay_shown = NAN;
  self->stage_rows = g_ptr_array_new ();
  self->stage_entries = g_ptr_array_new ();
  self->block_rows = g_ptr_array_new ();
  self->block_spins = g_ptr_array_new ();

  for (Spin spin = 0; spin < N_SPINS; spin++)
    {
      g_object_set_data (G_OBJECT (self->spins[spin]), "graft-spin", GINT_TO_POINTER (spin));
      g_signal_connect (self->spins[spin], "value-changed", G_CALLBACK (on_spin_changed), self);
    }
  gtk_adjustment_set_upper (gtk_spin_button_get_adjustment (self->spins[SPIN_VIEWS]), GRAFT_MAX_CACHED_VIEWS);
  gtk_widget_set_visible (GTK_WIDGET (self->error_revealer), FALSE);
  show_factor (self);
  update_stage_controls (self);
}
