/*
 * alarm.h - unwrap-rate alarms per KEK over a sliding window
 * (docs/AUDIT.md, "Alarms").
 *
 * unwrap-alarm = N/DURATION (e.g. 1000/60s): more than N unwraps of one KEK
 * within any DURATION is an alarm: an alert line in the audit trail and a
 * syslog warning, once per crossing, and a line when the rate is back below
 * N. With unwrap-alarm-action = refuse the unwraps beyond N fail closed
 * (ENVCORE_R_UNWRAP_ALARM) and are not counted, so a caller that keeps
 * trying gets N unwraps per DURATION and no more.
 *
 * The window is 64 buckets of DURATION/64 (CLOCK_MONOTONIC, which every
 * process of the host shares). Without alarm-state the counts are this
 * process's; with alarm-state = PATH they live in that file, mapped shared
 * by every process that names it, under an fcntl() lock of the whole file
 * (a process that dies holding it loses it: the kernel drops the lock).
 */
#ifndef ENVPROV_ALARM_H
#define ENVPROV_ALARM_H

#include "envkey.h"

struct envprov_ctx;
typedef struct envprov_alarm envprov_alarm;

#define ENVPROV_CONF_UNWRAP_ALARM "unwrap-alarm"               /* N/DURATION; unset: off */
#define ENVPROV_CONF_UNWRAP_ALARM_ACTION "unwrap-alarm-action" /* log (default) | refuse */
#define ENVPROV_CONF_ALARM_STATE "alarm-state"                 /* shared state file */

/* Reads the settings into pc->alarm (NULL: off). ENVCORE_R_BAD_CONFIG
 * (raised) for a value it cannot read or a state file it cannot use. */
int envprov_alarm_config(struct envprov_ctx *pc);
void envprov_alarm_free(envprov_alarm *a);

/* Counts one unwrap of k (before it is made). ENVCORE_R_OK, or
 * ENVCORE_R_UNWRAP_ALARM (raised) when the action is refuse and k's window
 * is full. Writes the alert and clear lines to pc->audit. */
int envprov_alarm_unwrap(struct envprov_ctx *pc, const envkey *k);

#endif
