# Packaging: the shared library, `make install` and `make uninstall` (included by the Makefile).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#     $(PREFIX)/bin/khorgos
#     $(PREFIX)/lib/libkhorgos.a, libkhorgos.so.$(VERSION) with its soname libkhorgos.so.$(SOVERSION)
#       and the links libkhorgos.so.$(SOVERSION) and libkhorgos.so
#     $(PREFIX)/lib/libkhorgos_client.a, libkhorgos_client.so   the client library
#       (include/khorgos_client.h; the base and client layers only, docs/clients.md)
#     $(PREFIX)/include/*.h            every public header of include/
#     $(PREFIX)/lib/pkgconfig/khorgos.pc
#     $(PREFIX)/lib/systemd/system/khorgos.service   (its /usr/local/ paths made PREFIX's)
#     $(PREFIX)/share/doc/khorgos/     README.md, LICENSE, CHANGELOG.md, docs/*.md
#
# The shared library is built from objects compiled again with -fPIC in $(BUILD)/pic: the
# default build's objects are position-independent for executables only (Debian's gcc builds
# PIE), which a shared object cannot hold. The soname's number changes when the ABI of
# include/khorgos.h breaks.

VERSION := 0.1.0
SOVERSION := 0
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL ?= install

PIC_OBJECTS := $(LIB_SOURCES:%.c=$(BUILD)/pic/%.o)
SHARED_LIBRARY := $(BUILD)/libkhorgos.so.$(VERSION)
PUBLIC_HEADERS = $(wildcard include/*.h)
DOCS := README.md LICENSE CHANGELOG.md $(wildcard docs/*.md)

.PHONY: shared install uninstall

shared: $(SHARED_LIBRARY)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC-PIC  $<")
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -c $< -o $@

$(SHARED_LIBRARY): $(PIC_OBJECTS)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,libkhorgos.so.$(SOVERSION) -Wl,--no-undefined \
	    $^ $(LIBS) -o $@

# The pkg-config file is written at each install, for that PREFIX; Libs.private names what the
# library links, for static linking. The unit's paths under /usr/local become PREFIX's.
install: $(BUILD)/khorgos $(BUILD)/libkhorgos.a $(SHARED_LIBRARY) $(BUILD)/libkhorgos_client.a \
         $(BUILD)/libkhorgos_client.so
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/doc/khorgos/docs \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system
	$(INSTALL) -m 0755 $(BUILD)/khorgos $(DESTDIR)$(PREFIX)/bin/khorgos
	$(INSTALL) -m 0644 $(BUILD)/libkhorgos.a $(DESTDIR)$(PREFIX)/lib/libkhorgos.a
	$(INSTALL) -m 0755 $(SHARED_LIBRARY) $(DESTDIR)$(PREFIX)/lib/libkhorgos.so.$(VERSION)
	ln -sf libkhorgos.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libkhorgos.so.$(SOVERSION)
	ln -sf libkhorgos.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libkhorgos.so
	$(INSTALL) -m 0644 $(BUILD)/libkhorgos_client.a $(DESTDIR)$(PREFIX)/lib/libkhorgos_client.a
	$(INSTALL) -m 0755 $(BUILD)/libkhorgos_client.so $(DESTDIR)$(PREFIX)/lib/libkhorgos_client.so
	$(INSTALL) -m 0644 $(PUBLIC_HEADERS) $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(strip $(LIBS))|' packaging/khorgos.pc.in \
	    >$(DESTDIR)$(PREFIX)/lib/pkgconfig/khorgos.pc
	sed 's|/usr/local/|$(PREFIX)/|g' packaging/khorgos.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/system/khorgos.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/khorgos.pc \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/khorgos.service
	$(INSTALL) -m 0644 README.md LICENSE CHANGELOG.md $(DESTDIR)$(PREFIX)/share/doc/khorgos/
	$(INSTALL) -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/doc/khorgos/docs/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/khorgos $(DESTDIR)$(PREFIX)/lib/libkhorgos.a \
	    $(DESTDIR)$(PREFIX)/lib/libkhorgos.so.$(VERSION) \
	    $(DESTDIR)$(PREFIX)/lib/libkhorgos.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libkhorgos.so \
	    $(DESTDIR)$(PREFIX)/lib/libkhorgos_client.a $(DESTDIR)$(PREFIX)/lib/libkhorgos_client.so \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/khorgos.pc \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/khorgos.service \
	    $(addprefix $(DESTDIR)$(PREFIX)/include/,$(notdir $(PUBLIC_HEADERS)))
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/khorgos
