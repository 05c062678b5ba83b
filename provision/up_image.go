package provision

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
)

// consoleLog is the serial console log of a node's VM. On a remote host it
// is named apart from libvirt's own log of the domain (<domain>.log) in the
// same folder.
func (r *run) consoleLog(node string) string {
	if r.remote != nil && r.opts.LogDir == paths.RemoteLogDir {
		return paths.RemoteConsoleLog(r.lab.Name, node)
	}
	return paths.ConsoleLog(r.opts.LogDir, r.lab.Name, node)
}

// stageImage copies the image into the pool of a remote hypervisor, once
// per version: the disk the overlays are backed by and the kernel and
// initrd the domains boot must be files of that host.
type stageImage struct{}

func (stageImage) name() string { return "upload" }
func (stageImage) doc() string {
	return `on a remote libvirt: the image (disk, kernel, initrd) uploaded into its pool
once per image version (volumes image-NAME-CHECKSUM.*); local libvirt uses the files`
}
func (stageImage) run(r *run) error {
	if r.remote == nil {
		return nil
	}
	var err error
	if r.capacity, err = imageCapacity(r.img); err != nil {
		return err
	}
	staged, uploaded, err := stageImageOn(r.conn, r.remote, r.opts.Pool, r.img, r.opts.Volumes, r.out)
	if err != nil {
		return err
	}
	if uploaded == 0 {
		r.reused = append(r.reused, "image volumes "+image.VolumeBase(r.img.Name, staged.version)+".*")
	}
	r.img = staged.img
	return nil
}

// stagedImage is an image as a remote host holds it.
type stagedImage struct {
	img     image.Image // paths on the remote host
	version string
}

// staging serialises uploads of one image version to one host within the
// process (a class brings copies up in parallel): the second waits, then
// finds it there.
var staging sync.Map // host + version -> *sync.Mutex

// stageImageOn makes sure pool on remote holds img and returns it with
// remote paths, and how many files it uploaded.
func stageImageOn(conn *libvirt.Connect, remote *Remote, poolName string, img image.Image, upload VolumeWriter, out io.Writer) (stagedImage, int, error) {
	if upload == nil {
		upload = streamVolumes{}
	}
	version, err := img.Version()
	if err != nil {
		return stagedImage{}, 0, err
	}
	base := image.VolumeBase(img.Name, version)
	mu, _ := staging.LoadOrStore(remote.Label()+"\x00"+base, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	pool, err := conn.LookupStoragePoolByName(poolName)
	if err != nil {
		return stagedImage{}, 0, fmt.Errorf("storage pool %s on %s: %w", poolName, remote.Label(), err)
	}
	defer pool.Free()
	parts, err := img.Parts()
	if err != nil {
		return stagedImage{}, 0, err
	}
	_ = pool.Refresh(0)
	ready := volumeExists(pool, base+readyMark)
	staged := stagedImage{img: img, version: version}
	uploaded := 0
	var bytes int64
	start := time.Now()
	for _, p := range parts {
		name := base + p.Suffix
		if !ready {
			if p.Size > 0 && uploaded == 0 {
				fmt.Fprintf(out, "  uploading image %s (version %s) to pool %s on %s\n", img.Name, version, poolName, remote.Label())
			}
			if err := uploadPart(conn, pool, name, p, upload); err != nil {
				return stagedImage{}, 0, fmt.Errorf("upload image %s to %s: %w", img.Name, remote.Label(), err)
			}
			uploaded++
			bytes += p.Size
		}
		path, err := volumePath(pool, name)
		if err != nil {
			return stagedImage{}, 0, fmt.Errorf("image volume %s on %s: %w (remove the image volumes %s.* there and run up again)", name, remote.Label(), err, base)
		}
		switch p.Path {
		case img.Disk:
			staged.img.Disk = path
		case img.Kernel:
			staged.img.Kernel = path
		case img.Initrd:
			staged.img.Initrd = path
		}
	}
	if !ready {
		if err := createVolume(pool, base+readyMark, 0); err != nil {
			return stagedImage{}, 0, fmt.Errorf("mark image %s uploaded on %s: %w", img.Name, remote.Label(), err)
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(out, "  uploaded %d files, %.0f MiB in %.1f s (%.0f MiB/s)\n", uploaded, float64(bytes)/(1<<20), secs, float64(bytes)/(1<<20)/max(secs, 0.001))
	} else {
		fmt.Fprintf(out, "  image %s (version %s) already in pool %s on %s: nothing to upload\n", img.Name, version, poolName, remote.Label())
	}
	return staged, uploaded, nil
}

// uploadPart (re)creates volume name in pool and streams the part into it;
// a part left by a broken upload is replaced.
func uploadPart(conn *libvirt.Connect, pool *libvirt.StoragePool, name string, p image.Part, upload VolumeWriter) error {
	if err := deletePoolVolume(pool, name); err != nil {
		return err
	}
	if err := createVolume(pool, name, uint64(p.Size)); err != nil {
		return err
	}
	vol, err := pool.LookupStorageVolByName(name)
	if err != nil {
		return err
	}
	defer vol.Free()
	err = console.Libvirt(fmt.Sprintf("upload %s (%d bytes) to volume %s", p.Path, p.Size, name), func() error { return upload.WriteFile(conn, vol, p.Path, p.Size) })
	if err != nil {
		_ = vol.Delete(0)
	}
	return err
}

// imageCapacity is the size the guest sees of the image disk: from the
// manifest of a built image, else the qcow2 header or the raw file's size.
func imageCapacity(img image.Image) (uint64, error) {
	if img.Manifest != nil && img.Manifest.VirtualBytes > 0 {
		return uint64(img.Manifest.VirtualBytes), nil
	}
	f, err := os.Open(img.Disk)
	if err != nil {
		return 0, fmt.Errorf("image disk: %w", err)
	}
	defer f.Close()
	if img.Format == "qcow2" {
		hdr := make([]byte, 32)
		if _, err := f.ReadAt(hdr, 0); err != nil {
			return 0, fmt.Errorf("read qcow2 header of %s: %w", img.Disk, err)
		}
		if string(hdr[:4]) != "QFI\xfb" {
			return 0, fmt.Errorf("%s is not a qcow2 file", img.Disk)
		}
		return binary.BigEndian.Uint64(hdr[24:32]), nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return uint64(st.Size()), nil
}
