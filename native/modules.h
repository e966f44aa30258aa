// Each native module registers its exports here; addon.cc calls them all.
#pragma once
#include <napi.h>

namespace ycs {
void InitDevice(Napi::Env env, Napi::Object exports);     // device.cc: openDevice, Device
void InitScsi(Napi::Env env, Napi::Object exports);       // scsi_passthrough.cc
void InitPrRead(Napi::Env env, Napi::Object exports);     // pr_read.cc: prReadKeys, prReadReservation, sgIoOnNode
void InitPeercred(Napi::Env env, Napi::Object exports);   // peercred.cc: peerCredentials(fd)
void InitSdNotify(Napi::Env env, Napi::Object exports);   // sd_notify.cc: sdNotify(state)
void InitProcessSpawn(Napi::Env env, Napi::Object exports); // process_spawn.cc: runProcess(file, args, env, options)
void InitLoopProbe(Napi::Env env, Napi::Object exports);    // loop_probe.cc: startLoopProbe(periodMs)
}  // namespace ycs
