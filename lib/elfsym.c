/*
 * elfsym.c - the name of a function from its address, static functions
 * included: for traces and crash reports.
 *
 * dladdr(3) knows only the dynamic symbol table, which holds no static
 * function and, unless the program was linked with -rdynamic, none of the
 * executable's.  The full symbol table (.symtab) of the module file has
 * them, unless the file was stripped.  Reading it takes a few lines of
 * <elf.h>; a library (libelf) would add a run-time dependency for this
 * one lookup, which runs once per function named.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "green-internal.h"

/* Whether [off, off + len) lies inside a file of size size. */
static bool
in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* In the mapped ELF file: the name of the function symbol whose value is
 * value, or NULL. */
static const char *
symtab_lookup(const unsigned char *f, size_t size, uint64_t value)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	const Elf64_Shdr *sh;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(*sh), size))
		return NULL;
	sh = (const Elf64_Shdr *)(f + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *st = &sh[i], *str;
		if (st->sh_type != SHT_SYMTAB || st->sh_link >= eh->e_shnum ||
		    st->sh_entsize != sizeof(Elf64_Sym) ||
		    !in_file(st->sh_offset, st->sh_size, size))
			continue;
		str = &sh[st->sh_link];
		if (!in_file(str->sh_offset, str->sh_size, size))
			continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(f + st->sh_offset);
		size_t n = st->sh_size / sizeof(*sym);
		for (size_t k = 0; k < n; k++) {
			if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC ||
			    sym[k].st_value != value ||
			    sym[k].st_name >= str->sh_size)
				continue;
			const char *name =
				(const char *)f + str->sh_offset + sym[k].st_name;
			/* the name must end inside the table */
			if (memchr(name, '\0', str->sh_size - sym[k].st_name))
				return name;
		}
	}
	return NULL;
}

/* The file of a module: the main program's through /proc (its name as
 * run may be relative, or empty), the others' as loaded. */
static const char *
module_path(const Dl_info *info)
{
	uintptr_t phdr = (uintptr_t)getauxval(AT_PHDR);

	/* the program headers follow the ELF header (e_phoff 64) */
	if (phdr != 0 &&
	    (uintptr_t)info->dli_fbase + sizeof(Elf64_Ehdr) == phdr)
		return "/proc/self/exe";
	return info->dli_fname != NULL ? info->dli_fname : "";
}

/* The name of fn from its module's .symtab into buf; false if unknown. */
static bool
symtab_name(const Dl_info *info, uintptr_t fn, char *buf, size_t len)
{
	const unsigned char *f;
	const Elf64_Ehdr *eh;
	const char *name;
	struct stat st;
	uint64_t value;
	bool found = false;
	int fd;

	if ((fd = open(module_path(info), O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
	    (f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
		      0)) == MAP_FAILED) {
		close(fd);
		return false;
	}
	close(fd);
	eh = (const Elf64_Ehdr *)f;
	/* a position-independent module's symbols are offsets from its
	 * load address; a fixed executable's are addresses */
	value = eh->e_type == ET_DYN ? fn - (uintptr_t)info->dli_fbase : fn;
	if ((name = symtab_lookup(f, (size_t)st.st_size, value)) != NULL) {
		snprintf(buf, len, "%s", name);
		found = true;
	}
	munmap((void *)f, (size_t)st.st_size);
	return found;
}

/*
 * The name of the function at fn into buf: from the dynamic symbols, else
 * the module's full symbol table, else "module+0xoffset" (for addr2line),
 * else the address.
 */
void
green__fn_name(uintptr_t fn, char *buf, size_t len)
{
	Dl_info info;
	const char *base;

	if (dladdr((void *)fn, &info) == 0) {
		snprintf(buf, len, "0x%lx", (unsigned long)fn);
		return;
	}
	if (info.dli_sname != NULL && info.dli_saddr == (void *)fn) {
		snprintf(buf, len, "%s", info.dli_sname);
		return;
	}
	if (symtab_name(&info, fn, buf, len))
		return;
	base = info.dli_fname != NULL ? strrchr(info.dli_fname, '/') : NULL;
	base = base != NULL ? base + 1 : info.dli_fname;
	if (base != NULL)
		snprintf(buf, len, "%s+0x%lx", base,
			 (unsigned long)(fn - (uintptr_t)info.dli_fbase));
	else
		snprintf(buf, len, "0x%lx", (unsigned long)fn);
}
