#ifndef VTIER_VERSION_H
#define VTIER_VERSION_H
#define VTIER_VERSION "0.1.0"
#endif
