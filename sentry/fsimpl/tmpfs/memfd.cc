#include "sentry/fsimpl/tmpfs/memfd.h"

#include <fcntl.h>

#include <string>

#include "sentry/fsimpl/tmpfs/regular_file.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"

namespace sentry::fsimpl::tmpfs {

std::shared_ptr<vfs::Mount> NewMemfdMount(mm::MemoryFile& memory) {
  auto fs = Filesystem::Create(memory, 01777, 0, 0);
  return std::make_shared<vfs::Mount>(vfs::Dentry::NewRoot(fs->root()), "tmpfs", "tmpfs", 0);
}

Result<std::shared_ptr<vfs::FileDescription>> NewMemfd(const std::shared_ptr<vfs::Mount>& mount,
                                                       std::string_view name, MemfdOptions options,
                                                       const vfs::FsCredentials& creds) {
  auto* root = dynamic_cast<Directory*>(&mount->root()->inode());
  if (root == nullptr) return Err(EINVAL);  // not a mount from NewMemfdMount
  auto inode = std::static_pointer_cast<RegularInode>(
      TRY(root->TmpFile(options.noexec_seal ? 0666 : 0777, creds, /*linkable=*/false)));
  // Every shmem file starts sealed against seals (F_SEAL_SEAL); a memfd may start open to them.
  uint32_t seals = F_SEAL_SEAL;
  if (options.noexec_seal) {
    seals = vfs::kSealExec;
  } else if (options.allow_sealing) {
    seals = 0;
  }
  inode->InitSeals(seals);
  auto dentry = vfs::Dentry::NewUnlinked("memfd:" + std::string(name), mount->root(), inode);
  return inode->Open(vfs::VirtualDentry{mount, std::move(dentry)}, O_RDWR);
}

}  // namespace sentry::fsimpl::tmpfs
