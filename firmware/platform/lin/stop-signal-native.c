/*
 * SIGTERM and SIGINT for the desktop (lin) build of the firmware. The handler only stores the
 * signal number: nothing else is safe inside a signal handler, and the XS machine must not be
 * entered there. firmware/platform/lin/stop-signal.ts polls it from a timer.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "xsmc.h"

static volatile sig_atomic_t gReceived = 0;

static void onSignal(int signal)
{
	gReceived = signal;
}

void xs_stop_signal_watch(xsMachine *the)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = onSignal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
}

void xs_stop_signal_received(xsMachine *the)
{
	xsmcSetInteger(xsResult, gReceived);
}

void xs_stop_signal_exit(xsMachine *the)
{
	exit(xsmcToInteger(xsArg(0)));
}
