/** Calls `onChange(isConnected)` when the device goes on or offline. */
export function watchNetwork(onChange: (isConnected: boolean) => void): void {
  uni.onNetworkStatusChange((res) => onChange(res.isConnected));
  // #ifdef H5
  // uni-h5 follows navigator.connection when it exists, which does not always report "offline".
  window.addEventListener('online', () => onChange(true));
  window.addEventListener('offline', () => onChange(false));
  // #endif
}
