/* cli-signals.c: Ctrl+C (SIGINT) and SIGTERM end graft-cli within a second.
 *
 * A command that can stop cleanly (train and lr-find, through the trainer's should_stop
 * hook; models download, through its main loop) asks for it: the first signal sets a
 * flag the command polls, and arms a watchdog. The command stops after the batch at hand
 * and saves what it has. Whatever still runs CLI_WATCHDOG_MS after the signal (a long
 * batch, a save, a thread blocked in a read from a FIFO or a write to a full pipe, where
 * the flag is never polled) is ended by the watchdog with _exit (128 + the signal). A
 * second signal ends the process at once. Files are written whole or not at all (the
 * model export links or renames a complete file into place), so an ending at any point
 * leaves no half-written output. Other commands keep the default actions, which end the
 * process at once.
 *
 * The watchdog is a POSIX timer that raises SIGALRM: timer_create is not
 * async-signal-safe, so the timer is made beforehand; timer_settime, write and _exit
 * are, so the handlers only use them.
 */
#include "cli/cli.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int received;         /* the first SIGINT or SIGTERM, or 0 */
static atomic_int watchdog_signal;  /* the signal that armed the watchdog, or 0 */
static timer_t watchdog_timer;
static gboolean watchdog_ready;     /* the timer exists; else alarm(), to the second */
static struct sigaction old_int, old_term;

/* Translated when the watchdog is prepared: gettext is no function for a signal handler. */
static const char *watchdog_message;

static void
on_watchdog (int signal_number)
{
  int s = atomic_load (&watchdog_signal);
  ssize_t ignored = write (STDERR_FILENO, watchdog_message, strlen (watchdog_message));
  (void) ignored;
  (void) signal_number;
  _exit (128 + (s != 0 ? s : SIGTERM));
}

void
cli_signals_prepare_watchdog (void)
{
  static gsize prepared = 0;
  if (g_once_init_enter (&prepared))
    {
      struct sigaction action = { 0 };
      struct sigevent event = { 0 };
      watchdog_message = _("graft-cli: still busy after the interruption; stopped without finishing\n");
      action.sa_handler = on_watchdog;
      sigemptyset (&action.sa_mask);
      sigaction (SIGALRM, &action, NULL);
      event.sigev_notify = SIGEV_SIGNAL;
      event.sigev_signo = SIGALRM;
      watchdog_ready = timer_create (CLOCK_MONOTONIC, &event, &watchdog_timer) == 0;
      g_once_init_leave (&prepared, 1);
    }
}

void
cli_signals_arm_watchdog (int signal_number)
{
  int expected = 0;
  /* Armed once: later signals do not put the deadline off. */
  if (!atomic_compare_exchange_strong (&watchdog_signal, &expected, signal_number))
    return;
  if (watchdog_ready)
    {
      struct itimerspec deadline = { .it_value = { .tv_sec = CLI_WATCHDOG_MS / 1000,
                                                   .tv_nsec = (long) (CLI_WATCHDOG_MS % 1000) * 1000000L } };
      if (timer_settime (watchdog_timer, 0, &deadline, NULL) == 0)
        return;
    }
  alarm (1);
}

static void
on_stop_signal (int signal_number)
{
  int expected = 0;
  if (!atomic_compare_exchange_strong (&received, &expected, signal_number))
    _exit (128 + signal_number); /* the second: at once */
  cli_signals_arm_watchdog (signal_number);
}

void
cli_signals_catch (void)
{
  struct sigaction action = { 0 };

  cli_signals_prepare_watchdog ();
  atomic_store (&received, 0);
  action.sa_handler = on_stop_signal;
  sigemptyset (&action.sa_mask);
  /* A read or write blocked when the signal comes resumes; the watchdog ends it. */
  action.sa_flags = SA_RESTART;
  sigaction (SIGINT, &action, &old_int);
  sigaction (SIGTERM, &action, &old_term);
}

void
cli_signals_release (void)
{
  /* A signal already taken keeps its watchdog: the process is ending. */
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
}

int
cli_signals_received (void)
{
  return atomic_load (&received);
}
