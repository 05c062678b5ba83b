package host

import (
	"fmt"
	"sync"
	"time"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/progress"
)

// StagedImage is an image as a remote host holds it.
type StagedImage struct {
	Image   image.Image // paths on the remote host
	Version string
}

// staging serialises uploads of one image version to one host within the
// process (a class brings copies up in parallel): the second waits, then
// finds it there.
var staging sync.Map // host + version -> *sync.Mutex

// StageImage makes sure pool on remote holds img and returns it with
// remote paths, and how many files it uploaded.
func StageImage(conn *libvirt.Connect, remote *Remote, poolName string, img image.Image, upload VolumeWriter, sink progress.Sink) (StagedImage, int, error) {
	if upload == nil {
		upload = StreamVolumes{}
	}
	sink = progress.Or(sink)
	version, err := img.Version()
	if err != nil {
		return StagedImage{}, 0, err
	}
	base := image.VolumeBase(img.Name, version)
	mu, _ := staging.LoadOrStore(remote.Label()+"\x00"+base, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	pool, err := conn.LookupStoragePoolByName(poolName)
	if err != nil {
		return StagedImage{}, 0, fmt.Errorf("storage pool %s on %s: %w", poolName, remote.Label(), err)
	}
	defer pool.Free()
	parts, err := img.Parts()
	if err != nil {
		return StagedImage{}, 0, err
	}
	_ = pool.Refresh(0)
	ready := volumeExists(pool, base+ReadyMark)
	staged := StagedImage{Image: img, Version: version}
	uploaded := 0
	var bytes int64
	start := time.Now()
	for _, p := range parts {
		name := base + p.Suffix
		if !ready {
			if p.Size > 0 && uploaded == 0 {
				sink.Emit(progress.ImageUploading{Name: img.Name, Version: version, Pool: poolName, Host: remote.Label()})
			}
			if err := uploadPart(conn, pool, name, p, upload); err != nil {
				return StagedImage{}, 0, fmt.Errorf("upload image %s to %s: %w", img.Name, remote.Label(), err)
			}
			uploaded++
			bytes += p.Size
		}
		path, err := volumePath(pool, name)
		if err != nil {
			return StagedImage{}, 0, fmt.Errorf("image volume %s on %s: %w (remove the image volumes %s.* there and run up again)", name, remote.Label(), err, base)
		}
		switch p.Path {
		case img.Disk:
			staged.Image.Disk = path
		case img.Kernel:
			staged.Image.Kernel = path
		case img.Initrd:
			staged.Image.Initrd = path
		}
	}
	if !ready {
		if err := CreateVolume(pool, base+ReadyMark, 0); err != nil {
			return StagedImage{}, 0, fmt.Errorf("mark image %s uploaded on %s: %w", img.Name, remote.Label(), err)
		}
		sink.Emit(progress.ImageUploaded{Files: uploaded, Bytes: bytes, Elapsed: progress.Since(start)})
	} else {
		sink.Emit(progress.ImageInPool{Name: img.Name, Version: version, Pool: poolName, Host: remote.Label()})
	}
	return staged, uploaded, nil
}

// uploadPart (re)creates volume name in pool and streams the part into it;
// a part left by a broken upload is replaced.
func uploadPart(conn *libvirt.Connect, pool *libvirt.StoragePool, name string, p image.Part, upload VolumeWriter) error {
	if err := DeletePoolVolume(pool, name); err != nil {
		return err
	}
	if err := CreateVolume(pool, name, uint64(p.Size)); err != nil {
		return err
	}
	vol, err := pool.LookupStorageVolByName(name)
	if err != nil {
		return err
	}
	defer vol.Free()
	err = progress.Libvirt(fmt.Sprintf("upload %s (%d bytes) to volume %s", p.Path, p.Size, name), func() error { return upload.WriteFile(conn, vol, p.Path, p.Size) })
	if err != nil {
		_ = vol.Delete(0)
	}
	return err
}
