package image

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Offsets in GRUB's boot.img (grub-core/boot/i386/pc/boot.S) and in the
// first sector of its core.img (diskboot.S) that grub-bios-setup fills in.
const (
	grubBPBStart     = 0x03       // the BIOS parameter block, kept from the disk
	grubBPBEnd       = 0x5a       //
	grubKernelSector = 0x5c       // uint64: the LBA of core.img's first sector
	grubDriveCheck   = 0x66       // a jmp that floppies need: two NOPs on a hard disk
	grubMBRCode      = 440        // boot code ends where the disk signature begins
	grubBlocklist    = 0x200 - 12 // diskboot's last blocklist: start (u64), length (u16), segment (u16)
)

// embedGRUB installs GRUB for BIOS boot into a raw disk whose first
// partition starts at gapEnd bytes, as grub-bios-setup does (which refuses
// to work on a plain file): boot.img's code in the MBR (the partition table
// and disk signature stay), core.img in the gap from sector 1 on, the MBR
// pointing at core.img's first sector and that sector's blocklist at the
// rest of core.img. GRUB's own check of the boot drive (for floppies) is
// turned off, as grub-bios-setup does for a hard disk. No Reed-Solomon
// codes are added: core.img says so itself (its redundancy field is 0).
func embedGRUB(disk interface {
	io.ReaderAt
	io.WriterAt
}, bootImg, coreImg []byte, gapEnd int64) error {
	if len(bootImg) != SectorSize {
		return fmt.Errorf("GRUB's boot.img is %d bytes, not one sector", len(bootImg))
	}
	sectors := (len(coreImg) + SectorSize - 1) / SectorSize
	if sectors < 2 {
		return fmt.Errorf("GRUB's core.img is %d bytes: too small to be one", len(coreImg))
	}
	if int64(1+sectors)*SectorSize > gapEnd {
		return fmt.Errorf("GRUB's core.img (%d sectors) does not fit before the first partition (sector %d)", sectors, gapEnd/SectorSize)
	}
	mbr := make([]byte, SectorSize)
	if _, err := disk.ReadAt(mbr, 0); err != nil {
		return err
	}
	code := append([]byte{}, bootImg[:grubMBRCode]...)
	copy(code[grubBPBStart:grubBPBEnd], mbr[grubBPBStart:grubBPBEnd])
	binary.LittleEndian.PutUint64(code[grubKernelSector:], 1)
	code[grubDriveCheck], code[grubDriveCheck+1] = 0x90, 0x90
	core := make([]byte, sectors*SectorSize)
	copy(core, coreImg)
	binary.LittleEndian.PutUint64(core[grubBlocklist:], 2)
	binary.LittleEndian.PutUint16(core[grubBlocklist+8:], uint16(sectors-1))
	if _, err := disk.WriteAt(code, 0); err != nil {
		return err
	}
	_, err := disk.WriteAt(core, SectorSize)
	return err
}
