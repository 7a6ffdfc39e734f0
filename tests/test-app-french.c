/* Graft in French: with LANGUAGE=fr and the catalog built in this build tree
 * (build/po/fr/LC_MESSAGES/graft.mo), the main window shows French, on the start
 * screen and on every page of the workspace with the sample open.
 *
 * What the person sees is collected from the window: the text of every mapped
 * label, every tooltip, the page titles of the view stack and the main menu's items.
 * No string that po/fr.po translates may appear in English, nor any string that
 * src/app/ or ui/ marks for translation and fr.po lacks; a few known strings must
 * appear in French, and the page titles and menu items must not be the English ones.
 *
 * Without a display it skips (TAP "1..0 # SKIP"). Run under a display:
 *   xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- meson test app-french
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "graft-application.h"
#include "graft-window.h"
#include "gradcheck.h"
#include "app-test-helpers.h"

static GraftApplication *application;
static GraftWindow *window;
/* English (mnemonics removed) -> French, from po/fr.po: entries whose translation
 * differs from the English, without format directives. */
static GHashTable *french;
/* Every msgid of po/fr.po (mnemonics removed), translated identically or not. */
static GHashTable *catalogued;
/* The strings the app's sources mark for translation (mnemonics removed): _("…"),
 * N_("…"), C_("ctx", "…") in the C files of src/app/, translatable="yes" in the
 * files of ui/. One of them
 * on screen, not in fr.po, is a string nobody translated. */
static GHashTable *marked;

/* ---- po/fr.po, read just enough ---- */

static char *
po_unquote (const char *line)
{
  const char *start = strchr (line, '"');
  const char *end = strrchr (line, '"');
  GString *out = g_string_new (NULL);

  if (start == NULL || end == NULL || end <= start)
    return g_string_free (out, FALSE);
  for (const char *p = start + 1; p < end; p++)
    {
      if (*p == '\\' && p + 1 < end)
        {
          p++;
          g_string_append_c (out, *p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static char *
strip_mnemonic (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '_' && p[1] == '_')
        g_string_append_c (out, *++p);
      else if (*p != '_')
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static void
po_add (GHashTable *table, const char *msgid, const char *msgstr, gboolean fuzzy)
{
  if (msgid != NULL && *msgid != '\0' && msgstr != NULL && *msgstr != '\0' && !fuzzy)
    g_hash_table_add (catalogued, strip_mnemonic (msgid));
  if (fuzzy || msgid == NULL || msgstr == NULL || *msgid == '\0' || *msgstr == '\0'
      || strchr (msgid, '%') != NULL || g_str_equal (msgid, msgstr))
    return;
  g_hash_table_insert (table, strip_mnemonic (msgid), strip_mnemonic (msgstr));
}

typedef enum { PO_NONE, PO_MSGID, PO_MSGSTR, PO_OTHER } PoField;

static GHashTable *
po_read (const char *path)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GString) msgid = g_string_new (NULL);
  g_autoptr (GString) msgstr = g_string_new (NULL);
  PoField field = PO_NONE;
  gboolean fuzzy = FALSE, plural = FALSE, have_msgstr = FALSE;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (int i = 0;; i++)
    {
      const char *line = lines[i];
      gboolean starts_entry = line == NULL || g_str_has_prefix (line, "#") || g_str_has_prefix (line, "msgid ")
                              || g_str_has_prefix (line, "msgctxt ");

      /* An entry ends where the next one (or its comments) begins. Plurals are left
       * out: counted strings carry numbers. */
      if (starts_entry && have_msgstr)
        {
          if (!plural)
            po_add (table, msgid->str, msgstr->str, fuzzy);
          g_string_truncate (msgid, 0);
          g_string_truncate (msgstr, 0);
          fuzzy = plural = have_msgstr = FALSE;
        }
      if (line == NULL)
        break;
      if (g_str_has_prefix (line, "#,") && strstr (line, "fuzzy") != NULL)
        fuzzy = TRUE;
      if (g_str_has_prefix (line, "msgid ") || g_str_has_prefix (line, "msgstr ") || line[0] == '"')
        {
          g_autofree char *text = po_unquote (line);
          if (g_str_has_prefix (line, "msgid "))
            field = PO_MSGID;
          else if (g_str_has_prefix (line, "msgstr "))
            {
              field = PO_MSGSTR;
              have_msgstr = TRUE;
            }
          if (field == PO_MSGID)
            g_string_append (msgid, text);
          else if (field == PO_MSGSTR)
            g_string_append (msgstr, text);
        }
      else if (g_str_has_prefix (line, "msgid_plural ") || g_str_has_prefix (line, "msgstr["))
        {
          plural = TRUE;
          have_msgstr = TRUE;
          field = PO_OTHER;
        }
      else if (g_str_has_prefix (line, "msgctxt "))
        field = PO_OTHER;
    }
  return table;
}

/* ---- the strings the sources mark for translation ---- */

/* Reads one or more adjacent C string literals at *p ("a" "b" -> ab). */
static char *
c_literals (const char **p)
{
  GString *out = g_string_new (NULL);

  for (;;)
    {
      while (g_ascii_isspace (**p))
        (*p)++;
      if (**p != '"')
        break;
      for ((*p)++; **p != '\0' && **p != '"'; (*p)++)
        {
          if (**p == '\\' && (*p)[1] != '\0')
            {
              (*p)++;
              g_string_append_c (out, **p == 'n' ? '\n' : **p == 't' ? '\t' : **p);
            }
          else
            g_string_append_c (out, **p);
        }
      if (**p == '"')
        (*p)++;
    }
  return g_string_free (out, FALSE);
}

static void
marked_add (const char *text)
{
  if (text[0] != '\0' && strchr (text, '%') == NULL)
    g_hash_table_add (marked, strip_mnemonic (text));
}

static void
marked_read_c (const char *contents)
{
  for (const char *p = contents; *p != '\0'; p++)
    {
      gboolean context = FALSE;
      const char *q;

      if (p > contents && (g_ascii_isalnum (p[-1]) || p[-1] == '_'))
        continue;
      if (g_str_has_prefix (p, "_ ("))
        q = p + 3;
      else if (g_str_has_prefix (p, "_(") )
        q = p + 2;
      else if (g_str_has_prefix (p, "N_ (") || g_str_has_prefix (p, "N_("))
        q = p + (p[2] == ' ' ? 4 : 3);
      else if (g_str_has_prefix (p, "C_ (") || g_str_has_prefix (p, "C_("))
        {
          q = p + (p[2] == ' ' ? 4 : 3);
          context = TRUE;
        }
      else
        continue;
      {
        g_autofree char *first = c_literals (&q);
        if (context)
          {
            while (g_ascii_isspace (*q))
              q++;
            if (*q == ',')
              {
                g_autofree char *second = NULL;
                q++;
                second = c_literals (&q);
                marked_add (second);
              }
          }
        else
          marked_add (first);
      }
    }
}

static char *
xml_unescape (const char *text, gsize length)
{
  g_autofree char *raw = g_strndup (text, length);
  g_autoptr (GString) out = g_string_new (raw);

  g_string_replace (out, "&lt;", "<", 0);
  g_string_replace (out, "&gt;", ">", 0);
  g_string_replace (out, "&quot;", "\"", 0);
  g_string_replace (out, "&apos;", "'", 0);
  g_string_replace (out, "&amp;", "&", 0);
  return g_strdup (out->str);
}

static void
marked_read_ui (const char *contents)
{
  for (const char *p = strstr (contents, "translatable=\"yes\""); p != NULL;
       p = strstr (p + 1, "translatable=\"yes\""))
    {
      const char *start = strchr (p, '>');
      const char *end = start != NULL ? strchr (start, '<') : NULL;

      if (start != NULL && end != NULL)
        {
          g_autofree char *text = xml_unescape (start + 1, end - start - 1);
          marked_add (text);
        }
    }
}

static void
marked_read_folder (const char *folder, const char *suffix, void (*read) (const char *))
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_test_message ("no %s: its strings are not checked", folder);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, suffix))
      {
        g_autofree char *path = g_build_filename (folder, name, NULL);
        g_autofree char *contents = NULL;
        if (g_file_get_contents (path, &contents, NULL, NULL))
          read (contents);
      }
}

/* ---- what the window shows ---- */

static void
iterate_for (int milliseconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) milliseconds * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static void
add_text (GPtrArray *texts, const char *text)
{
  if (text != NULL && *text != '\0')
    g_ptr_array_add (texts, g_strdup (text));
}

static void
collect_menu (GMenuModel *model, GPtrArray *texts)
{
  for (int i = 0; i < g_menu_model_get_n_items (model); i++)
    {
      g_autofree char *label = NULL;
      g_autoptr (GMenuLinkIter) links = NULL;

      if (g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_LABEL, "s", &label))
        {
          g_autofree char *plain = strip_mnemonic (label);
          add_text (texts, plain);
        }
      links = g_menu_model_iterate_item_links (model, i);
      while (g_menu_link_iter_next (links))
        {
          g_autoptr (GMenuModel) link = g_menu_link_iter_get_value (links);
          collect_menu (link, texts);
        }
    }
}

/* Mapped widgets only: what is on screen. */
static void
collect (GtkWidget *widget, GPtrArray *texts)
{
  if (!gtk_widget_get_mapped (widget))
    return;
  if (GTK_IS_LABEL (widget))
    add_text (texts, gtk_label_get_text (GTK_LABEL (widget)));
  add_text (texts, gtk_widget_get_tooltip_text (widget));
  if (GTK_IS_MENU_BUTTON (widget) && gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)) != NULL)
    collect_menu (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)), texts);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect (child, texts);
}

static GtkWidget *
find_widget (GtkWidget *root, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type);
      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Strings of the window's own code (page titles, the main menu) that must never be
 * shown in English, translated or not in fr.po. */
static const char *const english_words[] = {
  "Data", "Model", "Schedule", "Train", "Results", "Main Menu", "Start Screen",
  "Keyboard Shortcuts", "About Graft", NULL,
};

/* Leaks already reported: the window's chrome is on every page; it is named once. */
static GHashTable *reported;

static const char *
english_reason (const char *text)
{
  static char reason[512];

  if (g_hash_table_contains (french, text))
    {
      g_snprintf (reason, sizeof reason, "fr.po: “%s”", (char *) g_hash_table_lookup (french, text));
      return reason;
    }
  if (g_hash_table_contains (marked, text) && !g_hash_table_contains (catalogued, text))
    return "marked for translation, not in fr.po";
  if (g_strv_contains (english_words, text))
    return "a page title or menu item in English";
  return NULL;
}

/* Every text, and its lines (a label may join translated sentences). None may be a
 * string that fr.po translates, left in English, nor a string the sources mark for
 * translation that fr.po lacks, nor one of english_words. */
static void
assert_french (GPtrArray *texts, const char *where)
{
  g_autoptr (GString) leaks = g_string_new (NULL);
  guint known = 0;

  for (guint i = 0; i < texts->len; i++)
    {
      const char *text = texts->pdata[i];
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
      g_autoptr (GPtrArray) parts = g_ptr_array_new ();

      g_ptr_array_add (parts, (gpointer) text);
      for (int l = 0; lines[l] != NULL && lines[1] != NULL; l++)
        g_ptr_array_add (parts, lines[l]);
      for (guint k = 0; k < parts->len; k++)
        {
          const char *part = parts->pdata[k];
          const char *reason = english_reason (part);

          if (reason == NULL)
            continue;
          if (g_hash_table_contains (reported, part))
            known++;
          else
            {
              g_hash_table_add (reported, g_strdup (part));
              g_string_append_printf (leaks, "\n  “%s” (%s)", part, reason);
            }
          break;
        }
    }
  if (leaks->len > 0 || known > 0)
    {
      g_test_message ("%s — English on screen:%s%s", where, leaks->str,
                      known > 0 ? "\n  (and strings already named above)" : "");
      g_test_fail ();
    }
}

static gboolean
contains (GPtrArray *texts, const char *text)
{
  for (guint i = 0; i < texts->len; i++)
    if (g_str_equal (texts->pdata[i], text))
      return TRUE;
  return FALSE;
}

/* ---- the tests ---- */

/* The catalog of this build is the one in use, and it is French. */
static void
test_catalog (void)
{
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Main Menu"), ==, "Menu principal");
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Freeze Map"), ==, "Carte de gel");
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Feature Extraction"), ==, "Extraction de caractéristiques");
  g_assert_cmpuint (g_hash_table_size (french), >, 100);
}

static void
test_start_screen (void)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  graft_window_show_welcome (window);
  iterate_for (300);
  collect (GTK_WIDGET (window), texts);
  g_test_message ("start screen: %u texts", texts->len);
  g_assert_cmpuint (texts->len, >, 0);
  assert_french (texts, "The start screen");
  /* The header bar's menu button. */
  g_assert_true (contains (texts, "Menu principal"));
}

static void
test_menu (void)
{
  GtkWidget *button = find_widget (GTK_WIDGET (window), GTK_TYPE_MENU_BUTTON);
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  g_assert_nonnull (button);
  g_assert_nonnull (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (button)));
  collect_menu (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (button)), texts);
  g_assert_cmpuint (texts->len, >, 0);
  assert_french (texts, "The main menu");
}

static gboolean
sample_open (void)
{
  GraftSession *session = graft_window_get_session (window);
  return session != NULL && graft_session_get_model_path (session) != NULL;
}

/* Every page of the workspace, with the sample open so that the pages are full. */
static void
test_pages (void)
{
  AdwViewStack *stack = ADW_VIEW_STACK (find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_STACK));
  g_autoptr (GtkSelectionModel) pages = NULL;
  g_autoptr (GPtrArray) titles = g_ptr_array_new_with_free_func (g_free);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  g_autofree char *starter = graft_application_find_data ("models/graft-starter.onnx");

  g_assert_nonnull (stack);
  if (starter != NULL)
    {
      graft_window_open_sample (window);
      while (!sample_open () && g_get_monotonic_time () < deadline)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (1000);
      g_assert_true (sample_open ());
    }
  else
    g_test_message ("the starter model is not found: the pages are checked empty");

  pages = adw_view_stack_get_pages (stack);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (pages)), >, 0);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (pages)); i++)
    {
      g_autoptr (AdwViewStackPage) page = g_list_model_get_item (G_LIST_MODEL (pages), i);
      add_text (titles, adw_view_stack_page_get_title (page));
    }
  assert_french (titles, "The page titles");

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (pages)); i++)
    {
      g_autoptr (AdwViewStackPage) page = g_list_model_get_item (G_LIST_MODEL (pages), i);
      const char *name = adw_view_stack_page_get_name (page);
      g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *where = g_strdup_printf ("The page “%s”", name);

      graft_window_show_page (window, name);
      iterate_for (500);
      collect (GTK_WIDGET (window), texts);
      g_test_message ("%s: %u texts", name, texts->len);
      assert_french (texts, where);
      if (g_str_equal (name, "model") && starter != NULL)
        g_assert_true (contains (texts, "Carte de gel"));
    }
}

int
main (int argc, char **argv)
{
  g_autofree char *locale_dir = NULL;
  g_autofree char *po = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *home = NULL;
  int status;

  /* The sample project is made in the user data folder: a private one. */
  home = test_private_user_dirs ("graft-french-XXXXXX", FALSE);

  /* French messages. LANGUAGE is ignored in the "C" locale, so C.UTF-8 (always
   * there with glibc) underneath. */
  g_setenv ("LANGUAGE", "fr", TRUE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  setlocale (LC_ALL, "");

  /* Every check runs, and the private folders are removed, even after a failure. */
  {
    char **args = g_new0 (char *, argc + 2);
    for (int i = 0; i < argc; i++)
      args[i] = argv[i];
    args[argc++] = (char *) "--keep-going";
    argv = args;
  }
  g_test_init (&argc, &argv, NULL);
  /* The catalog of this build: build/po/fr/LC_MESSAGES/graft.mo, beside build/tests. */
  locale_dir = g_test_build_filename (G_TEST_BUILT, "..", "po", NULL);
  bindtextdomain (GETTEXT_PACKAGE, locale_dir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  po = g_test_build_filename (G_TEST_DIST, "..", "po", "fr.po", NULL);

  if (!gtk_init_check ())
    {
      g_print ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  catalogued = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  marked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  french = po_read (po);
  {
    g_autofree char *app_sources = g_test_build_filename (G_TEST_DIST, "..", "src", "app", NULL);
    g_autofree char *ui_files = g_test_build_filename (G_TEST_DIST, "..", "ui", NULL);
    marked_read_folder (app_sources, ".c", marked_read_c);
    marked_read_folder (ui_files, ".ui", marked_read_ui);
  }

  application = app_test_application_new ();
  window = graft_window_new (application);
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 820);
  gtk_window_present (GTK_WINDOW (window));
  iterate_for (500);

  g_test_add_func ("/app/french/catalog", test_catalog);
  g_test_add_func ("/app/french/start-screen", test_start_screen);
  g_test_add_func ("/app/french/menu", test_menu);
  g_test_add_func ("/app/french/pages", test_pages);
  status = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (window));
  g_object_unref (application);
  g_hash_table_unref (french);
  g_hash_table_unref (catalogued);
  g_hash_table_unref (marked);
  g_hash_table_unref (reported);
  test_remove_tree (home);
  return status;
}
