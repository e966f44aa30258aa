// placeholder: filled in by the native I/O work
#include "backend.h"
