/*
 * lore/lore.h - the public API of liblore, the local retrieval engine.
 * Include this header alone; it pulls in every module's header.
 */
#ifndef LORE_LORE_H
#define LORE_LORE_H

#define LORE_VERSION "0.1.0"

#include "lore/status.h"
#include "lore/counters.h"
#include "lore/blas.h"
#include "lore/calib.h"
#include "lore/tokenizer.h"
#include "lore/model.h"
#include "lore/embedder.h"
#include "lore/index.h"
#include "lore/chunker.h"
#include "lore/store.h"
#include "lore/pipeline.h"

/* The library's version string ("0.1.0"). */
const char *lore_version(void);

#endif
