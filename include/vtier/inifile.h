/*
 * inifile.h - reading an ini file through inih with line numbers, for
 * errors that say "FILE:LINE: what is wrong".
 *
 * inih hands its callback no line number (Debian builds it without
 * INI_HANDLER_LINENO), so the file is read whole (bounded) and fed to
 * inih one line per reader call: the calls count the lines.  On the way
 * the reader strips a UTF-8 byte order mark and leading blanks (inih
 * would join an indented line to the value above: a trap), refuses NUL
 * bytes and lines longer than inih's buffer (which inih would split,
 * with wrong numbers), refuses text after a "[section]" header, and hands
 * each header to the caller at its own line, so an empty or misspelt
 * section is reported there.  The first error wins; the parse stops at
 * it.  The parser's own callback reads f->lineno for the line it handles.
 *
 *	if ((rc = ini_file_open(&f, MAX_BYTES, err, errlen)) < 0)
 *		return rc;
 *	saved = ini_max_line;		// Debian's inih: set at run time
 *	ini_max_line = MAX_LINE;
 *	rc = ini_file_close(&f, ini_parse_stream(ini_file_reader, &f,
 *	    handler, user));
 *	ini_max_line = saved;
 *
 * (This file does not call inih itself, so programs that link the shared
 * objects without libinih, such as vtierctl, still link.)
 */
#ifndef VTIER_INIFILE_H
#define VTIER_INIFILE_H

#include <stddef.h>
#include <stdint.h>

struct ini_file {
	const char *path;
	/* A "[...]" line: the text between the brackets, or NULL when the
	 * line has no ']' (inih reports that as a syntax error). */
	void (*header)(void *arg, const char *name, size_t len);
	void *arg;
	const char *syntax_hint;	/* "expected ..." for a syntax error */

	/* Filled in by ini_file_open and the reader. */
	char *buf;
	size_t len, pos;
	int lineno;			/* the line being handled */
	int err_line, err_rc;		/* the first error, 0 = none */
	char *err;
	size_t errlen;
};

/* Read f->path whole (at most max_bytes); errors go to err. 0 or -errno. */
int ini_file_open(struct ini_file *f, size_t max_bytes, char *err,
    size_t errlen);
/* The reader to hand ini_parse_stream, with f as its stream. */
char *ini_file_reader(char *str, int num, void *stream);
/*
 * After ini_parse_stream (its result in inih_rc): 0, or the first
 * error's -errno with err holding "FILE:LINE: ..." (or "FILE: ..." when
 * it is not a line's).  Frees what ini_file_open read.
 */
int ini_file_close(struct ini_file *f, int inih_rc);

/* Record an error at line (0: the file's) unless one is already there;
 * returns rc. */
int ini_file_fail(struct ini_file *f, int line, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A value cut short for a message ("abc..."), so one bad line stays
 * readable; buf needs INI_SHOWN_MAX + 4 bytes. */
#define INI_SHOWN_MAX 64
const char *ini_shown(const char *value, char *buf, size_t len);

/* Milliseconds as an operator writes them: "250ms", "2s", "5m", "1h". */
void ini_format_duration(uint64_t ms, char *buf, size_t len);

#endif
