package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// SectorSize is the logical sector size lvslab reads and writes disks with.
const SectorSize = 512

// Partition is one entry of a disk's partition table.
type Partition struct {
	Index    int    // 1-based, as Linux numbers them (vda1)
	Start    int64  // bytes from the start of the disk
	Size     int64  // bytes
	Type     string // MBR "0x83", GPT the type GUID in upper case
	Name     string // GPT only
	Bootable bool   // MBR active flag
}

// Table kinds.
const (
	TableNone = "none" // a filesystem on the whole disk
	TableMBR  = "mbr"
	TableGPT  = "gpt"
)

// Partition types lvslab tells apart.
const (
	mbrLinux      = "0x83"
	mbrLVM        = "0x8e"
	mbrEFI        = "0xef"
	mbrProtective = "0xee"
	gptBIOSBoot   = "21686148-6449-6E6F-744E-656564454649"
	gptESP        = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	gptLVM        = "E6D6D379-F507-44C2-A23C-238F2A3DF928"
)

// PartitionTable is what the first sectors of a disk say.
type PartitionTable struct {
	Kind       string
	Partitions []Partition
	// BootCode: the MBR's first 440 bytes hold code (a BIOS bootloader's
	// first stage), not zeros.
	BootCode bool
	// GRUB: that code is GRUB's boot.img.
	GRUB bool
}

// Find returns the partitions of a type.
func (t PartitionTable) Find(typ string) []Partition {
	var out []Partition
	for _, p := range t.Partitions {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

// ReadPartitionTable reads the MBR and, behind a protective MBR, the GPT of
// a raw disk. Logical partitions of an extended MBR partition are not read.
func ReadPartitionTable(r io.ReaderAt) (PartitionTable, error) {
	mbr := make([]byte, SectorSize)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return PartitionTable{}, fmt.Errorf("read the first sector: %w", err)
	}
	t := PartitionTable{Kind: TableNone}
	t.BootCode = !allZero(mbr[:440])
	// GRUB's boot.img carries its error messages' words.
	t.GRUB = t.BootCode && bytes.Contains(mbr[:440], []byte("GRUB"))
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return t, nil
	}
	parts := mbrEntries(mbr)
	if len(parts) == 0 {
		// A boot sector signature with no entries: a FAT or NTFS volume
		// boot record on the whole disk, no table.
		return t, nil
	}
	if parts[0].Type == mbrProtective {
		return readGPT(r, t)
	}
	t.Kind, t.Partitions = TableMBR, parts
	return t, nil
}

func mbrEntries(mbr []byte) []Partition {
	var parts []Partition
	for i := range 4 {
		e := mbr[446+16*i : 446+16*(i+1)]
		typ := e[4]
		start := int64(binary.LittleEndian.Uint32(e[8:]))
		count := int64(binary.LittleEndian.Uint32(e[12:]))
		if typ == 0 || count == 0 {
			continue
		}
		parts = append(parts, Partition{Index: i + 1, Start: start * SectorSize, Size: count * SectorSize,
			Type: fmt.Sprintf("0x%02x", typ), Bootable: e[0] == 0x80})
	}
	return parts
}

// readGPT reads the primary GPT header at LBA 1 and its entries.
func readGPT(r io.ReaderAt, t PartitionTable) (PartitionTable, error) {
	h := make([]byte, SectorSize)
	if _, err := r.ReadAt(h, SectorSize); err != nil {
		return t, fmt.Errorf("read the GPT header: %w", err)
	}
	if string(h[:8]) != "EFI PART" {
		return t, errors.New("a protective MBR but no GPT header at sector 1")
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(h[72:]))
	n := binary.LittleEndian.Uint32(h[80:])
	size := binary.LittleEndian.Uint32(h[84:])
	if size < 128 || n > 1024 {
		return t, fmt.Errorf("a GPT of %d entries of %d bytes: not a table lvslab reads", n, size)
	}
	buf := make([]byte, int64(n)*int64(size))
	if _, err := r.ReadAt(buf, entriesLBA*SectorSize); err != nil {
		return t, fmt.Errorf("read the GPT entries: %w", err)
	}
	t.Kind = TableGPT
	for i := range int(n) {
		e := buf[i*int(size) : (i+1)*int(size)]
		if allZero(e[:16]) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		t.Partitions = append(t.Partitions, Partition{Index: i + 1, Start: first * SectorSize,
			Size: (last - first + 1) * SectorSize, Type: guidString(e[:16]), Name: utf16Name(e[56:128])})
	}
	return t, nil
}

// guidString renders a GUID as GPT stores it: the first three fields
// little-endian.
func guidString(b []byte) string {
	return strings.ToUpper(fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16]))
}

func utf16Name(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// writeMBR writes a DOS partition table with one bootable Linux partition
// from start to the end of a disk of size bytes, and the boot signature,
// into the first sector of w; the first 440 bytes (boot code) are left
// as they are.
func writeMBR(w io.WriterAt, start, size int64, diskID uint32) error {
	sectors := (size - start) / SectorSize
	if start%SectorSize != 0 || sectors <= 0 || sectors > 0xffffffff {
		return fmt.Errorf("a partition from byte %d on a disk of %d bytes does not fit a DOS partition table", start, size)
	}
	tail := make([]byte, SectorSize-440)
	binary.LittleEndian.PutUint32(tail[0:], diskID) // 440: disk signature
	e := tail[446-440:]
	e[0] = 0x80
	// CHS fields: "use the LBA" (all ones), as partitioners write beyond 8 GB.
	copy(e[1:4], []byte{0xfe, 0xff, 0xff})
	e[4] = 0x83
	copy(e[5:8], []byte{0xfe, 0xff, 0xff})
	binary.LittleEndian.PutUint32(e[8:], uint32(start/SectorSize))
	binary.LittleEndian.PutUint32(e[12:], uint32(sectors))
	tail[510-440], tail[511-440] = 0x55, 0xaa
	_, err := w.WriteAt(tail, 440)
	return err
}
