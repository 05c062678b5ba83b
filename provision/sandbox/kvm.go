package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KVM ioctl numbers (linux/kvm.h).
const (
	kvmGetAPIVersion       = 0xAE00
	kvmCreateVM            = 0xAE01
	kvmGetVcpuMmapSize     = 0xAE04
	kvmCreateVcpu          = 0xAE41
	kvmSetUserMemoryRegion = 0x4020AE46
	kvmGetSregs            = 0x8138AE83
	kvmSetSregs            = 0x4138AE84
	kvmSetRegs             = 0x4090AE82
	kvmRun                 = 0xAE80
	kvmExitHlt             = 5
	kvmGetSupportedCPUID   = 0xC008AE05
)

// KVMUsable tells whether KVM can really run a guest here: it checks that
// KVM offers the CPU features every x86-64 guest kernel expects (SSE3 was
// missing on a nested cloud machine where the kernel then hung silently),
// and runs one "hlt" instruction in a real-mode VM. A /dev/kvm that opens but cannot run
// a guest (seen on nested clouds) is worse than none: libvirt then probes
// QEMU again on every call, about 80 s each.
func KVMUsable() error {
	done := make(chan error, 1)
	go func() { done <- probeKVM() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("KVM test guest did not halt within 5 s")
	}
}

func probeKVM() error {
	kvm, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer kvm.Close()
	if v, err := ioctl(kvm.Fd(), kvmGetAPIVersion, 0); err != nil || v != 12 {
		return fmt.Errorf("KVM API version %d: %v", v, err)
	}
	if err := checkCPUID(kvm.Fd()); err != nil {
		return err
	}
	vmfd, err := ioctl(kvm.Fd(), kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("create VM: %w", err)
	}
	defer unix.Close(int(vmfd))

	mem, err := unix.Mmap(-1, 0, 0x1000, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	mem[0] = 0xf4              // hlt
	region := make([]byte, 32) // slot, flags, guest_phys_addr, memory_size, userspace_addr
	binary.LittleEndian.PutUint64(region[8:], 0x1000)
	binary.LittleEndian.PutUint64(region[16:], 0x1000)
	binary.LittleEndian.PutUint64(region[24:], uint64(uintptr(unsafe.Pointer(&mem[0]))))
	if _, err := ioctl(uintptr(vmfd), kvmSetUserMemoryRegion, uintptr(unsafe.Pointer(&region[0]))); err != nil {
		return fmt.Errorf("set memory: %w", err)
	}
	vcpu, err := ioctl(uintptr(vmfd), kvmCreateVcpu, 0)
	if err != nil {
		return fmt.Errorf("create vcpu: %w", err)
	}
	defer unix.Close(int(vcpu))
	size, err := ioctl(kvm.Fd(), kvmGetVcpuMmapSize, 0)
	if err != nil {
		return err
	}
	run, err := unix.Mmap(int(vcpu), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(run)

	sregs := make([]byte, 0x138) // struct kvm_sregs; cs (base, limit, selector, ...) comes first
	if _, err := ioctl(uintptr(vcpu), kvmGetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("get sregs: %w", err)
	}
	binary.LittleEndian.PutUint64(sregs[0:], 0)  // cs.base
	binary.LittleEndian.PutUint16(sregs[12:], 0) // cs.selector
	if _, err := ioctl(uintptr(vcpu), kvmSetSregs, uintptr(unsafe.Pointer(&sregs[0]))); err != nil {
		return fmt.Errorf("set sregs: %w", err)
	}
	regs := make([]byte, 0x90) // struct kvm_regs: 16 GPRs, rip, rflags
	binary.LittleEndian.PutUint64(regs[16*8:], 0x1000)
	binary.LittleEndian.PutUint64(regs[17*8:], 2)
	if _, err := ioctl(uintptr(vcpu), kvmSetRegs, uintptr(unsafe.Pointer(&regs[0]))); err != nil {
		return fmt.Errorf("set regs: %w", err)
	}
	if _, err := ioctl(uintptr(vcpu), kvmRun, 0); err != nil {
		return fmt.Errorf("run guest: %w", err)
	}
	if reason := binary.LittleEndian.Uint32(run[8:]); reason != kvmExitHlt {
		return fmt.Errorf("test guest stopped with KVM exit reason %d instead of hlt", reason)
	}
	return nil
}

func ioctl(fd, req, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// checkCPUID asks KVM which CPUID bits it can give guests and requires
// leaf 1's SSE2 (EDX bit 26) and SSE3 (ECX bit 0).
func checkCPUID(kvmfd uintptr) error {
	const entries, entrySize = 256, 40 // struct kvm_cpuid_entry2
	buf := make([]byte, 8+entries*entrySize)
	binary.LittleEndian.PutUint32(buf, entries)
	if _, err := ioctl(kvmfd, kvmGetSupportedCPUID, uintptr(unsafe.Pointer(&buf[0]))); err != nil {
		return fmt.Errorf("read KVM CPUID: %w", err)
	}
	n := int(binary.LittleEndian.Uint32(buf))
	for i := 0; i < n && i < entries; i++ {
		e := buf[8+i*entrySize:]
		if binary.LittleEndian.Uint32(e) != 1 { // function
			continue
		}
		ecx, edx := binary.LittleEndian.Uint32(e[20:]), binary.LittleEndian.Uint32(e[24:])
		if ecx&1 == 0 || edx&(1<<26) == 0 {
			return fmt.Errorf("KVM cannot give guests SSE2/SSE3 (CPUID 1: ecx=%#x edx=%#x)", ecx, edx)
		}
		return nil
	}
	return errors.New("KVM reports no CPUID leaf 1")
}
