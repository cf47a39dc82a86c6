#pragma once

/*
 * The journal's MESSAGE_ID of each kind of event failoverd reports, so an
 * operator can follow one kind across restarts (`journalctl MESSAGE_ID=...`)
 * and tooling need not parse the text. The IDs are stable: never reuse or
 * change one (docs/reliability.md, "The journal"). Each is a ready
 * "MESSAGE_ID=..." field for log_full()'s field list.
 */

#define MESSAGE_STARTED	      "MESSAGE_ID=f3cde048db864476b9e0bc9a0b9d116c"
#define MESSAGE_STOPPING      "MESSAGE_ID=f2920b7c95b244ac80b6c6ee0b104960"
#define MESSAGE_PAIR_STATE    "MESSAGE_ID=75e0d89d4dd34ab6bb89a0df0697bfd2"
#define MESSAGE_PAIR_FAILED   "MESSAGE_ID=325dcdda1ea044f8bbdf821ef17326eb"
#define MESSAGE_QEMU_READY    "MESSAGE_ID=2de28f05a0b24abe91a3b4d8b73130c6"
#define MESSAGE_QEMU_GONE     "MESSAGE_ID=87306e72199c48b6b0731f94e5b6f196"
#define MESSAGE_RELOADED      "MESSAGE_ID=976eec52e83a453aa121239d7b1be5cf"
#define MESSAGE_RELOAD_FAILED "MESSAGE_ID=35a2c278bd264a62b683ab1399185bd1"
