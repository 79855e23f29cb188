/* nosplit_entry.h - task code built without -fsplit-stack (the .c says why). */
#ifndef GREEN_NOSPLIT_ENTRY_H
#define GREEN_NOSPLIT_ENTRY_H

/* Uses 96 KiB of stack and parks; returns arg when its frame survived. */
void *nosplit_big_frame(void *arg);

#endif
