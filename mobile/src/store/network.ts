/** Calls `onChange(isConnected, networkType)` now and whenever the device's network changes (wifi, 4g, none…). */
export function watchNetwork(onChange: (isConnected: boolean, networkType?: string) => void): void {
  uni.getNetworkType({ success: (res) => onChange(res.networkType !== 'none', res.networkType) });
  uni.onNetworkStatusChange((res) => onChange(res.isConnected, res.networkType));
  // #ifdef H5
  // uni-h5 follows navigator.connection when it exists, which does not always report "offline".
  window.addEventListener('online', () => onChange(true));
  window.addEventListener('offline', () => onChange(false));
  // #endif
}
