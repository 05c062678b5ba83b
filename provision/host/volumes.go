package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/progress"
)

// CreateVolume makes a raw volume of size bytes (the upload writes the
// image's bytes as they are: a qcow2 stays a qcow2).
func CreateVolume(pool *libvirt.StoragePool, name string, size uint64) error {
	x, err := (&libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}).Marshal()
	if err != nil {
		return err
	}
	vol, err := progress.Call("create volume "+name, func() (*libvirt.StorageVol, error) { return pool.StorageVolCreateXML(x, 0) })
	if err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return vol.Free()
}

func volumeExists(pool *libvirt.StoragePool, name string) bool {
	vol, err := pool.LookupStorageVolByName(name)
	if err != nil {
		return false
	}
	vol.Free()
	return true
}

func volumePath(pool *libvirt.StoragePool, name string) (string, error) {
	vol, err := pool.LookupStorageVolByName(name)
	if err != nil {
		return "", err
	}
	defer vol.Free()
	return vol.GetPath()
}

// uploadFile streams a local file into vol.
func uploadFile(conn *libvirt.Connect, vol *libvirt.StorageVol, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return uploadReader(conn, vol, f, size)
}

// uploadReader streams size bytes of src into vol through a libvirt stream
// (over the remote driver's connection on a remote host).
func uploadReader(conn *libvirt.Connect, vol *libvirt.StorageVol, src io.Reader, size int64) error {
	st, err := conn.NewStream(0)
	if err != nil {
		return err
	}
	defer st.Free()
	if err := vol.Upload(st, 0, uint64(size), 0); err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for {
		n, err := src.Read(buf)
		for off := 0; off < n; {
			sent, serr := st.Send(buf[off:n])
			if serr != nil {
				_ = st.Abort()
				return serr
			}
			off += sent
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = st.Abort()
			return err
		}
	}
	return st.Finish()
}

// StreamVolumes is the real VolumeWriter: libvirt streams (over the remote
// driver's connection on a remote host).
type StreamVolumes struct{}

func (StreamVolumes) WriteBytes(conn *libvirt.Connect, vol *libvirt.StorageVol, data []byte) error {
	return uploadReader(conn, vol, bytes.NewReader(data), int64(len(data)))
}

func (StreamVolumes) WriteFile(conn *libvirt.Connect, vol *libvirt.StorageVol, path string, size int64) error {
	return uploadFile(conn, vol, path, size)
}

// VolumeWriter fills storage volumes: a seed from memory, an image's file
// from the local disk.
type VolumeWriter interface {
	WriteBytes(conn *libvirt.Connect, vol *libvirt.StorageVol, data []byte) error
	WriteFile(conn *libvirt.Connect, vol *libvirt.StorageVol, path string, size int64) error
}
